print("demo-worker: not yet")
