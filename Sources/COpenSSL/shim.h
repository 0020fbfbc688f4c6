#ifndef BLOBCACHE_COPENSSL_SHIM_H
#define BLOBCACHE_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#endif
