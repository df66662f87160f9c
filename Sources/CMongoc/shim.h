#ifndef CHATD_CMONGOC_SHIM_H
#define CHATD_CMONGOC_SHIM_H
#include <mongoc/mongoc.h>
#include <bson/bson.h>

/* bson_t and bson_iter_t are 128-byte aligned, so Swift sees them as opaque: it cannot reserve one on
   its stack. These wrappers keep such values in C and hand Swift heap objects it can own. */

/* Size of a bson_iter_t, so Swift can allocate one with 128-byte alignment. */
static inline size_t chatd_bson_iter_size(void) { return sizeof(bson_iter_t); }

/* Runs a command and returns the server's reply as a heap bson_t (free with bson_destroy), also
   when the command failed: the reply then carries the server's code and keyPattern, if it answered. */
static inline bool chatd_client_command(mongoc_client_t *client, const char *db, const bson_t *command,
                                        bool write, bson_t **reply_out, bson_error_t *error) {
    bson_t reply;
    bool ok = write ? mongoc_client_write_command_with_opts(client, db, command, NULL, &reply, error)
                    : mongoc_client_read_command_with_opts(client, db, command, NULL, NULL, &reply, error);
    *reply_out = bson_copy(&reply);
    bson_destroy(&reply);
    return ok;
}

#endif
