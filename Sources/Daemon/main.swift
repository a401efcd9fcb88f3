print("appd: not yet")
