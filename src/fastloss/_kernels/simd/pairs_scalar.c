/* pairs.c for the scalar path (every CPU). */
#define FL_TARGET_SCALAR 1
#include "pairs.c"
