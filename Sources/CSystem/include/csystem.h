#ifndef CSYSTEM_H
#define CSYSTEM_H
int cs_placeholder(void);
#endif
