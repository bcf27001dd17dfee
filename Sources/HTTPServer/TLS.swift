import COpenSSL

/// The server's OpenSSL context: certificate, key, TLS ≥ 1.2 with forward-secret AEAD suites, ALPN http/1.1.
final class TLSContext: @unchecked Sendable {
    // Safe to share: the SSL_CTX is fully configured in init and afterwards only passed to SSL_new, which
    // OpenSSL documents as thread-safe on a context no one mutates.
    private let context: OpaquePointer

    /// The TLS 1.2 suites of Mozilla's intermediate profile without DHE (which needs parameters of its own):
    /// ECDHE key exchange for forward secrecy, AEAD ciphers only (CBC suites are the ones padding oracles attack).
    /// TLS 1.3 suites, all of them forward-secret AEADs, stay OpenSSL's defaults.
    static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    init(configuration: TLSConfiguration) throws(HTTPServerStartError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .tls(Self.lastError()) }
        self.context = context
        copenssl_ctx_set_min_tls12(context)
        copenssl_ctx_set_nonblocking_modes(context)
        copenssl_ctx_select_http11(context)
        guard SSL_CTX_set_cipher_list(context, Self.tls12CipherSuites) == 1 else { throw .tls(Self.lastError()) }
        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificatePath) == 1 else {
            throw .tls("certificate \(configuration.certificatePath): \(Self.lastError())")
        }
        let path = configuration.privateKeyPath
        var askedForPassphrase = false
        let loaded = withUnsafeMutablePointer(to: &askedForPassphrase) { asked in
            // Without a callback OpenSSL would prompt on the terminal; this one notes the request and declines.
            SSL_CTX_set_default_passwd_cb(context) { _, _, _, userData in
                userData?.assumingMemoryBound(to: Bool.self).pointee = true
                return -1
            }
            SSL_CTX_set_default_passwd_cb_userdata(context, asked)
            defer { SSL_CTX_set_default_passwd_cb_userdata(context, nil) }
            return SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM) == 1
        }
        guard loaded else {
            if askedForPassphrase {
                ERR_clear_error()
                throw .tls(
                    "private key \(path) is encrypted: passphrases are not supported, decrypt it with `openssl pkey -in \(path) -out KEY`"
                )
            }
            throw .tls("private key \(path): \(Self.lastError())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else { throw .tls("private key does not match the certificate") }
    }

    deinit { SSL_CTX_free(context) }

    func makeSession(fd: Int32) -> TLSSession? {
        guard let ssl = SSL_new(context) else { return nil }
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
        return TLSSession(ssl: ssl)
    }

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown OpenSSL error" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        ERR_clear_error()
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Result of a read on a connection's transport.
enum TransportRead {
    case bytes(Int)
    case wouldBlock
    /// TLS must write (handshake) before it can read again.
    case needsWritable
    case closed
    case failed
}

/// Result of a write on a connection's transport.
enum TransportWrite {
    case wrote(Int)
    case wouldBlock
    /// TLS must read before it can write again.
    case needsReadable
    case failed
}

/// One connection's SSL object; the handshake happens inside the first reads and writes.
struct TLSSession {
    let ssl: OpaquePointer

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportRead {
        ERR_clear_error()
        var count = 0
        guard SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 else {
            switch SSL_get_error(ssl, 0) {
            case SSL_ERROR_WANT_READ: return .wouldBlock
            case SSL_ERROR_WANT_WRITE: return .needsWritable
            case SSL_ERROR_ZERO_RETURN: return .closed
            default: return .failed
            }
        }
        return .bytes(count)
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TransportWrite {
        ERR_clear_error()
        var count = 0
        guard SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count) == 1 else {
            switch SSL_get_error(ssl, 0) {
            case SSL_ERROR_WANT_WRITE: return .wouldBlock
            case SSL_ERROR_WANT_READ: return .needsReadable
            default: return .failed
            }
        }
        return .wrote(count)
    }

    /// Decrypted bytes OpenSSL holds that the socket will not announce again.
    var hasPendingBytes: Bool { SSL_pending(ssl) > 0 }

    /// Sends close_notify if possible; never waits for the peer's.
    func shutdown() {
        ERR_clear_error()
        SSL_shutdown(ssl)
        ERR_clear_error()
    }

    func free() { SSL_free(ssl) }
}
