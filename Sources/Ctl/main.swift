print("appctl: not yet")
