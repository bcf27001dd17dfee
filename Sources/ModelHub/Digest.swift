import COpenSSL

/// An incremental SHA-256 or SHA-1 (OpenSSL EVP), for checking downloads against the Hub's ETags.
final class Digest {
    enum Algorithm { case sha256, sha1 }

    private let context: OpaquePointer // EVP_MD_CTX*

    init(_ algorithm: Algorithm) {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, algorithm == .sha256 ? EVP_sha256() : EVP_sha1(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    func update(_ text: String) {
        Array(text.utf8).withUnsafeBytes { update($0) }
    }

    /// The digest as lower-case hex; the object must not be updated afterwards.
    func finalizeHex() -> String {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &output, &length)
        return output[0..<Int(length)].map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
