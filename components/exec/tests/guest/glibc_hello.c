/* A static glibc program: libc start-up (TLS, auxv, brk/mmap malloc), stdio, libm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
int main(int argc,char**argv){ char *p=malloc(100); strcpy(p,"heap"); double x=argc*1.5; printf("hello %s %d %.6f %g\n", p, argc, sqrt(x*7.25), x/3); for(int i=0;i<3;i++) printf("%d:%s\n", i, i<argc?argv[i]:"-"); return 3; }
