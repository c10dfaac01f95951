/* Open connections per client address, for the per-address limit. */
#ifndef TANDEM_ADDR_TABLE_H
#define TANDEM_ADDR_TABLE_H

#include <stdint.h>
#include <sys/socket.h>

struct addr_entry {
  uint8_t key[17]; /* family byte + 16 address bytes (IPv4 uses 4) */
  uint8_t key_len;
  uint32_t count;
  char text[48];   /* printable address, for logs */
};

/* Finds or creates the entry for the address and counts one more
 * connection. NULL when out of memory. */
struct addr_entry *addr_table_acquire(const struct sockaddr_storage *sa);
/* Counts one connection less; frees the entry at zero. */
void addr_table_release(struct addr_entry *e);
/* Frees everything (at exit). */
void addr_table_free(void);

#endif
