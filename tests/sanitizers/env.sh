# Source before running anything from a VIZRUN_SANITIZE=ON build (ctest, vizrun):
#   . tests/sanitizers/env.sh
# Every report is fatal; the suppression files here name reports raised inside the
# uninstrumented libraries only (LibTorch, libhdf5; README.md), nothing of vizrun's own.
_vizrun_supp=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:suppressions=$_vizrun_supp/asan.supp${VIZRUN_ASAN_EXTRA:+:$VIZRUN_ASAN_EXTRA}"
export LSAN_OPTIONS="suppressions=$_vizrun_supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$_vizrun_supp/ubsan.supp"
unset _vizrun_supp
