/* Does nothing: its run time is the engine's start-up (for friscy.wasm under wasmtime,
 * compiling the component), which the other programs' times include. */
#include <stdio.h>

int main(void) {
    printf("nop\n");
    return 0;
}
