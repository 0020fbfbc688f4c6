#ifndef BLOBCACHE_CZSTD_SHIM_H
#define BLOBCACHE_CZSTD_SHIM_H
#include <zstd.h>
#endif
