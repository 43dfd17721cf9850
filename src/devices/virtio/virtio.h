/* virtio.h: constants of the virtio 1.2 specification shared by the transport and the devices. */
#ifndef KILN_DEVICES_VIRTIO_VIRTIO_H
#define KILN_DEVICES_VIRTIO_VIRTIO_H

/* Device status field (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Reserved feature bits (6). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device ids (5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

/* Split virtqueue (2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_DESC_SIZE 16
#define VIRTQ_USED_ELEM_SIZE 8
/* Alignment of the three parts (2.7, table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4

/* InterruptStatus bits (4.2.2). */
#define VIRTIO_INT_USED_RING 1
#define VIRTIO_INT_CONFIG 2

#define VIRTIO_BIT(f) (1ull << (f))

#endif
