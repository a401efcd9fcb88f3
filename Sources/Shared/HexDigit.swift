/// One hexadecimal digit's value (either case), for the hand-written
/// readers: JSON's `\uXXXX`, JSON5's `\u` and `0x` numbers, /proc's hex
/// fields. nil for anything else.
public enum HexDigit {
    public static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public static func value(_ scalar: Unicode.Scalar) -> UInt8? {
        scalar.isASCII ? value(UInt8(scalar.value)) : nil
    }
}
