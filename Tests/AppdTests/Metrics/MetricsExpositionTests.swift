import Testing
@testable import Shared

/// The text exposition format, rule by rule (MetricsExposition).
@Suite struct MetricsExpositionTests {
    @Test func aFamilyIsItsHelpAndTypeThenItsSamples() {
        var exposition = MetricsExposition()
        exposition.add("appd_group_restarts_total", .counter, help: "Restarts.",
                       [MetricSample(["group": "web"], 3), MetricSample(["group": "queue"], 0)])
        exposition.add("appd_start_time_seconds", .gauge, help: "Start.", [MetricSample(1_700_000_000.5)])
        #expect(exposition.text == """
            # HELP appd_group_restarts_total Restarts.
            # TYPE appd_group_restarts_total counter
            appd_group_restarts_total{group="web"} 3
            appd_group_restarts_total{group="queue"} 0
            # HELP appd_start_time_seconds Start.
            # TYPE appd_start_time_seconds gauge
            appd_start_time_seconds 1700000000.5

            """)
    }

    @Test func aFamilyAddedTwiceAppearsOnceWithEverySample() {
        var exposition = MetricsExposition()
        exposition.add("a_total", .counter, help: "A.", [MetricSample(["k": "1"], 1)])
        exposition.add("b", .gauge, help: "B.", [MetricSample(2)])
        exposition.add("a_total", .counter, help: "A.", [MetricSample(["k": "2"], 5)])
        let lines = exposition.text.split(separator: "\n")
        #expect(lines.filter { $0 == "# TYPE a_total counter" }.count == 1)
        #expect(lines.prefix(4) == ["# HELP a_total A.", "# TYPE a_total counter", #"a_total{k="1"} 1"#, #"a_total{k="2"} 5"#])
        #expect(exposition.families.map(\.name) == ["a_total", "b"])
    }

    @Test func aFamilyWithoutSamplesIsLeftOut() {
        var exposition = MetricsExposition()
        exposition.add("nothing_yet_total", .counter, help: "None.", [])
        exposition.add("b", .gauge, help: "B.", [MetricSample(1)])
        #expect(!exposition.text.contains("nothing_yet_total"))
        #expect(exposition.text.hasPrefix("# HELP b B.\n"))
    }

    @Test func labelValuesEscapeBackslashQuoteAndNewline() {
        var exposition = MetricsExposition()
        exposition.add("m", .gauge, help: #"Say "hi" \ then"# + "\nmore.", [MetricSample(["v": "a\\b\"c\nd"], 1)])
        #expect(exposition.text.contains(#"m{v="a\\b\"c\nd"} 1"#))
        // HELP escapes the backslash and the newline, not the quote.
        #expect(exposition.text.hasPrefix(#"# HELP m Say "hi" \\ then\nmore."# + "\n"))
        #expect(exposition.text.split(separator: "\n").count == 3)
    }

    @Test func valuesAreWholeNumbersWhenTheyAreAndPrometheusSpellingsOtherwise() {
        #expect(MetricsExposition.formatted(3) == "3")
        #expect(MetricsExposition.formatted(-0.0) == "0")
        #expect(MetricsExposition.formatted(1_073_741_824) == "1073741824")
        #expect(MetricsExposition.formatted(0.25) == "0.25")
        #expect(MetricsExposition.formatted(1e20) == "1e+20")
        #expect(MetricsExposition.formatted(.nan) == "NaN")
        #expect(MetricsExposition.formatted(.infinity) == "+Inf")
        #expect(MetricsExposition.formatted(-.infinity) == "-Inf")
    }

    @Test func namesAreCheckedAndSanitized() {
        #expect(MetricsExposition.isValidName("appd_worker_cpu_seconds_total"))
        #expect(MetricsExposition.isValidName("a:b_c9"))
        #expect(!MetricsExposition.isValidName("9lives"))
        #expect(!MetricsExposition.isValidName("a-b"))
        #expect(!MetricsExposition.isValidName(""))
        #expect(MetricsExposition.sanitizedName("requests.2xx") == "requests_2xx")
        #expect(MetricsExposition.sanitizedName("5xx") == "_5xx")
        #expect(MetricsExposition.sanitizedName("") == "_")
        #expect(MetricsExposition.sanitizedName("queue depth/ms") == "queue_depth_ms")
        #expect(MetricsExposition.sanitizedName("naïve") == "na_ve")
        #expect(MetricsExposition.isValidName(MetricsExposition.sanitizedName("\u{1b}[31m")))
    }

    @Test func metricsItemsAreWholeLinesThatJoinBackIntoTheExposition() {
        let lines = (0..<5000).map { "appd_worker_open_fds{group=\"web\",id=\"\($0)\",pid=\"\(1000 + $0)\"} 7\n" }
        let text = Array((lines.joined() + String(repeating: "x", count: 70_000) + "\n" + "tail 1\n").utf8)
        let pieces = MetricsText.pieces(of: text)
        #expect(pieces.count > 3)
        #expect(pieces.map(\.text).joined() == String(decoding: text, as: UTF8.self))
        for piece in pieces {
            #expect(piece.text.hasSuffix("\n"))
            #expect(piece.text.utf8.count <= MetricsText.maximumPieceBytes || !piece.text.dropLast().contains("\n"),
                    "a piece over the limit is one long line")
        }
        #expect(MetricsText.pieces(of: []).isEmpty)
    }
}
