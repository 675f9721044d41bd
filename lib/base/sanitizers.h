// Which sanitizer runtime a build carries (`scripts/test.sh --sanitize`, the fuzz build). gcc says
// so with __SANITIZE_ADDRESS__ (and nothing for UBSan alone), clang with __has_feature.
//   MODELPRESS_ASAN               AddressSanitizer
//   MODELPRESS_SANITIZER_RUNTIME  AddressSanitizer, or clang's UndefinedBehaviorSanitizer
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define MODELPRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MODELPRESS_ASAN 1
#endif
#endif

#if defined(MODELPRESS_ASAN)
#define MODELPRESS_SANITIZER_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(undefined_behavior_sanitizer)
#define MODELPRESS_SANITIZER_RUNTIME 1
#endif
#endif
