/// The end-to-end harness: a real `appd` and real processes, observed from
/// outside. Namespaced so its names (TemporaryDirectory, ProcFS...) never
/// collide with helpers other test files declare for themselves.
enum EndToEnd {}
