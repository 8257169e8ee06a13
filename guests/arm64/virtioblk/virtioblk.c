/* A minimal virtio-blk driver over virtio-mmio version 2 (virtio 1.2 sections 2, 4.2 and 5.2), for
 * samples/VirtioHarness: negotiate VIRTIO_F_VERSION_1, set up queue 0, write "written by the guest" to sector 1,
 * read sector 0, then report to the harness's mailbox (0 = every step worked, else the step that failed). */
#include "guest.h"

#define VIRTIO 0x0A000000UL
#define MAILBOX 0x0B000000UL

#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define DEVICE_FEATURES 0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES 0x020
#define DRIVER_FEATURES_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INTERRUPT_STATUS 0x060
#define INTERRUPT_ACK 0x064
#define STATUS 0x070
#define QUEUE_DESC 0x080
#define QUEUE_DRIVER 0x090
#define QUEUE_DEVICE 0x0a0
#define CONFIG 0x100

#define ACKNOWLEDGE 1
#define DRIVER 2
#define DRIVER_OK 4
#define FEATURES_OK 8

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define QUEUE_SIZE 8

struct desc { u64 addr; u32 len; unsigned short flags, next; };
struct avail { unsigned short flags, idx, ring[QUEUE_SIZE]; };
struct used_elem { u32 id, len; };
struct used { unsigned short flags, idx; struct used_elem ring[QUEUE_SIZE]; };
struct req { u32 type, reserved; u64 sector; };

static struct desc descs[QUEUE_SIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req header __attribute__((aligned(16)));
static unsigned char data[512] __attribute__((aligned(16)));
static unsigned char status;

static void reg(u64 off, u32 v) { wr32(VIRTIO + off, v); }
static u32 get(u64 off) { return rd32(VIRTIO + off); }
static void barrier(void) { __asm__ volatile("dsb sy" ::: "memory"); }

static void set_address(u64 off, void *p)
{
    reg(off, (u32)(u64)p);
    reg(off + 4, (u32)((u64)p >> 32));
}

/* One request: header, data (written by the device for IN), status; returns the status byte, 0xff on no answer. */
static int request(u32 type, u64 sector)
{
    header.type = type;
    header.sector = sector;
    status = 0xff;
    descs[0] = (struct desc){ (u64)&header, sizeof header, VIRTQ_DESC_F_NEXT, 1 };
    descs[1] = (struct desc){ (u64)data, sizeof data, VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0), 2 };
    descs[2] = (struct desc){ (u64)&status, 1, VIRTQ_DESC_F_WRITE, 0 };
    unsigned short before = *(volatile unsigned short *)&used.idx;
    avail.ring[avail.idx % QUEUE_SIZE] = 0;
    barrier();
    avail.idx++;
    barrier();
    reg(QUEUE_NOTIFY, 0);
    for (int spin = 0; *(volatile unsigned short *)&used.idx == before; spin++)
        if (spin > 1000000)
            return 0xff;
    barrier();
    reg(INTERRUPT_ACK, get(INTERRUPT_STATUS));
    return *(volatile unsigned char *)&status;
}

static u32 run(void)
{
    static const char host[] = "written by the host";
    static const char guest[] = "written by the guest";
    if (get(MAGIC) != 0x74726976 || get(VERSION) != 2 || get(DEVICE_ID) != 2)
        return 1;
    reg(STATUS, 0);
    reg(STATUS, ACKNOWLEDGE);
    reg(STATUS, ACKNOWLEDGE | DRIVER);
    reg(DEVICE_FEATURES_SEL, 1);
    if (!(get(DEVICE_FEATURES) & 1)) /* VIRTIO_F_VERSION_1 is bit 32 */
        return 2;
    reg(DRIVER_FEATURES_SEL, 1);
    reg(DRIVER_FEATURES, 1);
    reg(DRIVER_FEATURES_SEL, 0);
    reg(DRIVER_FEATURES, 0);
    reg(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    if (!(get(STATUS) & FEATURES_OK))
        return 3;
    reg(QUEUE_SEL, 0);
    if (get(QUEUE_NUM_MAX) < QUEUE_SIZE)
        return 4;
    reg(QUEUE_NUM, QUEUE_SIZE);
    set_address(QUEUE_DESC, descs);
    set_address(QUEUE_DRIVER, &avail);
    set_address(QUEUE_DEVICE, &used);
    reg(QUEUE_READY, 1);
    reg(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    if (rd32(VIRTIO + CONFIG) < 2) /* capacity in sectors, low word */
        return 5;

    for (unsigned i = 0; i < sizeof data; i++)
        data[i] = i < sizeof guest ? (unsigned char)guest[i] : 0;
    if (request(VIRTIO_BLK_T_OUT, 1) != 0)
        return 6;
    if (request(VIRTIO_BLK_T_IN, 0) != 0)
        return 7;
    for (unsigned i = 0; i < sizeof host; i++)
        if (data[i] != (unsigned char)host[i])
            return 8;
    return 0;
}

void secondary_main(void) {}

void primary_main(void)
{
    wr32(MAILBOX, run());
    psci(PSCI_SYSTEM_OFF, 0, 0, 0);
}
