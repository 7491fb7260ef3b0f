/* producer.c: a Forge producer in C. It holds the producer role of a ring
 * (SIGINT/SIGTERM stop it cleanly, a retired segment ends it with exit 3)
 * and writes COUNT telemetry frames that forge-core --verify accepts: each
 * frame's sequence number is its ring position, its timestamp the
 * monotonic clock.
 *
 *   forge-init --segment /demo && forge-core --segment /demo --verify &
 *   ./producer /demo 1000000 128
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forge.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEGMENT COUNT [FRAME_BYTES]\n", argv[0]);
        return 2;
    }
    unsigned long long count = strtoull(argv[2], NULL, 10);
    size_t frame_bytes = argc > 3 ? strtoul(argv[3], NULL, 10) : 128;
    if (frame_bytes < FORGE_FRAME_HEADER_LEN || frame_bytes > FORGE_PAYLOAD_CAPACITY) {
        fprintf(stderr, "FRAME_BYTES: expected %d to %d\n", FORGE_FRAME_HEADER_LEN,
                FORGE_PAYLOAD_CAPACITY);
        return 2;
    }
    static char body[FORGE_FRAME_MAX_BODY_LEN];
    memset(body, 'x', sizeof body);
    uint32_t source = (uint32_t)getpid(); /* once: getpid is a system call */

    ForgeClaim claim = forge_claim_default();
    claim.wait = FORGE_WAIT_STRATEGY_YIELD; /* yields its core while the ring is full */
    claim.program = "c-producer";           /* the name forge-top shows */
    ForgeHolder *ring = NULL;
    ForgeStatus status = forge_holder_producer_new(argv[1], &claim, &ring);

    for (unsigned long long n = 0; status == FORGE_STATUS_OK && n < count; n++) {
        /* Waits for a free slot, doing the holder's duties meanwhile. */
        ForgeWriteSlot slot;
        status = forge_holder_claim(ring, &slot);
        if (status != FORGE_STATUS_OK)
            break;
        size_t len = 0;
        status = forge_frame_encode(slot.data, slot.capacity, slot.position, forge_now_ns(),
                                    source, FORGE_FRAME_KIND_METRIC, body,
                                    frame_bytes - FORGE_FRAME_HEADER_LEN, &len);
        if (status == FORGE_STATUS_OK)
            status = forge_holder_commit(ring, len, 0, NULL);
    }
    forge_holder_drop(ring); /* releases the role; NULL is fine */
    /* Says why on stderr if the run did not succeed; 0, 1, 3 or 4. */
    return forge_holder_finish("c-producer", status);
}
