/* consumer.c: a Forge consumer in C. It holds the consumer role of a ring,
 * asleep on a futex while the ring is empty (the producer wakes it), reads
 * COUNT frames (0: until SIGINT or SIGTERM) in place, checks each one
 * (length, format, and the checksum over header and body), and prints how
 * many it read. A frame that fails its check ends the run with exit 4.
 *
 *   forge-init --segment /demo && ./consumer /demo 1000000 &
 *   forge-stream --segment /demo --count 1000000
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "forge.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SEGMENT [COUNT]\n", argv[0]);
        return 2;
    }
    unsigned long long count = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;

    ForgeClaim claim = forge_claim_default();
    claim.wait = FORGE_WAIT_STRATEGY_PARK; /* sleep when idle; no extra call */
    claim.program = "c-consumer";
    ForgeHolder *ring = NULL;
    ForgeStatus status = forge_holder_consumer_new(argv[1], &claim, &ring);

    uint64_t frames = 0, bytes = 0;
    while (status == FORGE_STATUS_OK && (count == 0 || frames < count)) {
        /* Waits for a frame, doing the holder's duties meanwhile. */
        ForgeFrame frame;
        status = forge_holder_read(ring, &frame);
        if (status != FORGE_STATUS_OK)
            break;
        ForgeFrameHeader header;
        status = forge_frame_check(frame.data, frame.len, &header);
        if (status != FORGE_STATUS_OK) {
            fprintf(stderr, "c-consumer: frame at position %" PRIu64 ": %s\n", frame.position,
                    forge_last_error_message());
            break;
        }
        frames++;
        bytes += frame.len;
        forge_holder_release(ring); /* the slot goes back to the producer */
    }
    printf("c-consumer: %" PRIu64 " frames checked, %" PRIu64 " bytes\n", frames, bytes);
    forge_holder_drop(ring);
    return forge_holder_finish("c-consumer", status);
}
