import Glibc

extension UnsafeMutablePointer where Pointee == dirent {
    /// The name of the entry `readdir` returned, read in place up to its NUL.
    /// Not `pointee.d_name`: that copies the whole 256-byte field, and
    /// readdir packs entries by their real length, so for the last entry of
    /// its buffer the copy read past the end (AddressSanitizer reported a
    /// heap-buffer-overflow in the /proc walk).
    var entryName: String {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        return String(cString: UnsafeRawPointer(self).advanced(by: offset).assumingMemoryBound(to: CChar.self))
    }
}
