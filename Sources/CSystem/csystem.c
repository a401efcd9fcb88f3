#include "csystem.h"
int cs_placeholder(void) { return 0; }
