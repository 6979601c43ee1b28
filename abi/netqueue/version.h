/**
 * @file
 * netqueue — ABI version. CMake reads these macros for the SOVERSION.
 */
#ifndef NETQUEUE_VERSION_H
#define NETQUEUE_VERSION_H

#include "common.h"

/** Major version: a new one breaks the ABI and renames the SONAME. */
#define NQ_ABI_VERSION_MAJOR 1
/** Minor version: a new one adds to the ABI (docs/versioning.md). */
#define NQ_ABI_VERSION_MINOR 3
/** Patch version: a new one fixes, without changing the ABI. */
#define NQ_ABI_VERSION_PATCH 0

/** One number for comparisons: 0xMMmmpp. */
#define NQ_ABI_VERSION \
    ((NQ_ABI_VERSION_MAJOR << 16) | (NQ_ABI_VERSION_MINOR << 8) | NQ_ABI_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The NQ_ABI_VERSION of the library actually loaded. A program built
 * against major M must check (nq_abi_version() >> 16) == M. Any thread.
 */
NQ_API uint32_t nq_abi_version(void);

/** "1.0.0"-style version string of the loaded library; static. Any thread. */
NQ_API const char *nq_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
