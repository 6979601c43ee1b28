/* Run-time version queries. */
#include <netqueue/version.h>

#define NQ_STR2(x) #x
#define NQ_STR(x) NQ_STR2(x)

uint32_t nq_abi_version(void)
{
    return NQ_ABI_VERSION;
}

const char *nq_version_string(void)
{
    return NQ_STR(NQ_ABI_VERSION_MAJOR) "." NQ_STR(NQ_ABI_VERSION_MINOR) "." NQ_STR(NQ_ABI_VERSION_PATCH);
}
