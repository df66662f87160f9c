#ifndef CHATD_CRABBITMQ_SHIM_H
#define CHATD_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_tcp_socket.h>

/* amqp_login is variadic; Swift cannot call it directly. */
static inline amqp_rpc_reply_t chatd_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                      int channel_max, int frame_max, int heartbeat,
                                                      const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

/* PLAIN login that also announces client capabilities (so the broker tells us when it cancels a
 * consumer, e.g. because its queue was deleted, and when it blocks publishers) and a connection name
 * shown by the management UI. The property table only lives for the duration of the call, which is
 * all amqp_login_with_properties needs. */
static inline amqp_rpc_reply_t chatd_amqp_login_named(amqp_connection_state_t state, const char *vhost,
                                                      int frame_max, int heartbeat,
                                                      const char *user, const char *password,
                                                      const char *connection_name) {
    amqp_table_entry_t capabilities[2];
    capabilities[0].key = amqp_cstring_bytes("consumer_cancel_notify");
    capabilities[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    capabilities[0].value.value.boolean = 1;
    capabilities[1].key = amqp_cstring_bytes("connection.blocked");
    capabilities[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    capabilities[1].value.value.boolean = 1;

    amqp_table_entry_t properties[2];
    properties[0].key = amqp_cstring_bytes("capabilities");
    properties[0].value.kind = AMQP_FIELD_KIND_TABLE;
    properties[0].value.value.table.num_entries = 2;
    properties[0].value.value.table.entries = capabilities;
    properties[1].key = amqp_cstring_bytes("connection_name");
    properties[1].value.kind = AMQP_FIELD_KIND_UTF8;
    properties[1].value.value.bytes = amqp_cstring_bytes(connection_name);

    amqp_table_t table;
    table.num_entries = 2;
    table.entries = properties;
    return amqp_login_with_properties(state, vhost, 0, frame_max, heartbeat, &table,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}
#endif
