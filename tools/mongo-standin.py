#!/usr/bin/env python3
"""A MongoDB wire-protocol stand-in for tests: real drivers (libmongoc) talk to it as to a standalone mongod.

mockupdb speaks the wire protocol (OP_QUERY handshake, OP_MSG commands, one thread per connection);
mongomock stores the data and evaluates queries and updates. One lock serializes every command, so each
command is atomic, as a single-document write is on a real server.

    python3 tools/mongo-standin.py --port 0     # prints "PORT <n>" once listening, serves until killed

Limitations: no authentication, TLS, transactions, change streams or replica-set behaviour; write concern
and read preference are accepted and ignored; only the commands routed below exist (others answer
CommandNotFound, code 59, as a real server does).
"""

import argparse
import datetime
import itertools
import os
import signal
import threading

import mockupdb
import mongomock
from bson.int64 import Int64
from mongomock import filtering, helpers
from mongomock.collection import Collection
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError

MAX_WIRE_VERSION = 13  # MongoDB 5.0: OP_MSG, sessions, createIndexes with partial indexes.
SERVER_VERSION = "5.0.0"

_lock = threading.Lock()
_client = mongomock.MongoClient()
_cursors = {}
_cursor_ids = itertools.count(1000)

# Keys a driver adds to every command that the storage engine has no use for.
_GENERIC_FIELDS = {
    "$db", "lsid", "$clusterTime", "$readPreference", "txnNumber", "autocommit", "startTransaction",
    "writeConcern", "readConcern", "comment", "maxTimeMS", "apiVersion", "apiStrict",
    "apiDeprecationErrors", "bypassDocumentValidation", "$query",
}


# --- Unique indexes in O(1) -------------------------------------------------------------------------------
# mongomock checks a unique index by scanning the whole collection on every write, which makes seeding
# 10,000 users quadratic. This keeps, per unique index, a map from key value to the _id that holds it.
# An entry is trusted only after checking the stored document still has that value, so deletes and
# updates that move a value away need no bookkeeping; the map is built by one scan on first use, and
# every later write passes through _ensure_uniques.

def _index_key_value(doc, keys):
    values = []
    for key, _ in keys:
        try:
            values.append(helpers.get_value_by_dot(doc, key))
        except KeyError:
            values.append(None)
    return values


def _hashable(value):
    if isinstance(value, dict):
        return ("doc",) + tuple((k, _hashable(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("arr",) + tuple(_hashable(v) for v in value)
    return (type(value).__name__, value)


def _indexed(index, doc):
    values = _index_key_value(doc, index["key"])
    if index.get("sparse") and all(v is None for v in values):
        return None
    partial = index.get("partialFilterExpression")
    if partial is not None and not filtering.filter_applies(partial, doc):
        return None
    return values


def _fast_ensure_uniques(self, new_data):
    store = self._store
    caches = store.__dict__.setdefault("_standin_unique_maps", {})
    for name, index in store.indexes.items():
        if not index.get("unique"):
            continue
        values = _indexed(index, new_data)
        if values is None:
            continue
        cached = caches.get(name)
        if cached is None or cached[0] is not index:
            mapping = {}
            for doc in store.documents:
                doc_values = _indexed(index, doc)
                if doc_values is not None and doc["_id"] != new_data["_id"]:
                    mapping[_hashable(doc_values)] = doc["_id"]
            cached = (index, mapping)
            caches[name] = cached
        mapping = cached[1]
        key = _hashable(values)
        holder_id = mapping.get(key)
        if holder_id is not None and holder_id != new_data["_id"] and holder_id in store:
            holder = store[holder_id]
            if _indexed(index, holder) == values:
                key_pattern = {k: d for k, d in index["key"]}
                key_value = {k: v for (k, _), v in zip(index["key"], values)}
                shown = ", ".join("%s: %r" % kv for kv in key_value.items())
                message = ("E11000 duplicate key error collection: %s.%s index: %s dup key: { %s }"
                           % (self.database.name, self.name, name, shown))
                raise DuplicateKeyError(message, 11000,
                                        {"errmsg": message, "keyPattern": key_pattern, "keyValue": key_value})
        mapping[key] = new_data["_id"]


def _fast_iter_documents(self, filter):
    # An _id equality needs no scan: look the document up directly.
    if isinstance(filter, dict):
        _id = filter.get("_id")
        if _id is not None and not isinstance(_id, (dict, list)):
            doc = self._store[_id] if _id in self._store else None
            return iter([doc] if doc is not None and filtering.filter_applies(filter, doc) else [])
    return _original_iter_documents(self, filter)


_original_iter_documents = Collection._iter_documents
Collection._ensure_uniques = _fast_ensure_uniques
Collection._iter_documents = _fast_iter_documents


# --- Replies ------------------------------------------------------------------------------------------------

class CommandError(Exception):
    def __init__(self, code, code_name, message, **extra):
        super().__init__(message)
        self.code, self.code_name, self.extra = code, code_name, extra


def _message(error):
    # str() of a pymongo error appends its details; a server's errmsg is just the sentence.
    details = getattr(error, "details", None) or {}
    return str(details.get("errmsg") or (error.args[0] if error.args else error))


def _write_error(index, error):
    entry = {"index": index, "code": getattr(error, "code", None) or 2, "errmsg": _message(error)}
    details = getattr(error, "details", None) or {}
    for field in ("keyPattern", "keyValue"):
        if field in details:
            entry[field] = details[field]
    return entry


def _hello(doc):
    reply = {
        "ismaster": True,
        "isWritablePrimary": True,
        "helloOk": True,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000,
        "localTime": datetime.datetime.now(datetime.timezone.utc),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": 1,
        "minWireVersion": 0,
        "maxWireVersion": MAX_WIRE_VERSION,
        "readOnly": False,
        "ok": 1.0,
    }
    return reply


def _cursor_reply(namespace, docs, batch_size, first):
    key = "firstBatch" if first else "nextBatch"
    if batch_size and len(docs) > batch_size:
        cursor_id = next(_cursor_ids)
        _cursors[cursor_id] = (namespace, docs[batch_size:])
        docs = docs[:batch_size]
    else:
        cursor_id = 0
    return {"cursor": {"id": Int64(cursor_id), "ns": namespace, key: docs}, "ok": 1.0}


def _sort_spec(sort):
    return list(sort.items()) if sort else None


# --- Commands -----------------------------------------------------------------------------------------------

def cmd_insert(db, doc):
    coll = db[doc["insert"]]
    ordered = doc.get("ordered", True)
    inserted, errors = 0, []
    for index, item in enumerate(doc.get("documents", [])):
        try:
            coll.insert_one(item)
            inserted += 1
        except (WriteError, DuplicateKeyError) as error:
            errors.append(_write_error(index, error))
            if ordered:
                break
    reply = {"n": inserted, "ok": 1.0}
    if errors:
        reply["writeErrors"] = errors
    return reply


def cmd_update(db, doc):
    coll = db[doc["update"]]
    ordered = doc.get("ordered", True)
    matched, modified, upserted, errors = 0, 0, [], []
    for index, statement in enumerate(doc.get("updates", [])):
        query, update = statement.get("q", {}), statement.get("u", {})
        upsert, multi = statement.get("upsert", False), statement.get("multi", False)
        try:
            is_operator_update = isinstance(update, list) or any(k.startswith("$") for k in update)
            if not is_operator_update:
                result = coll.replace_one(query, update, upsert=upsert)
            elif multi:
                result = coll.update_many(query, update, upsert=upsert)
            else:
                result = coll.update_one(query, update, upsert=upsert)
            if result.upserted_id is not None:
                upserted.append({"index": index, "_id": result.upserted_id})
                matched += 1
            else:
                matched += result.matched_count
                modified += result.modified_count
        except (WriteError, DuplicateKeyError) as error:
            errors.append(_write_error(index, error))
            if ordered:
                break
    reply = {"n": matched, "nModified": modified, "ok": 1.0}
    if upserted:
        reply["upserted"] = upserted
    if errors:
        reply["writeErrors"] = errors
    return reply


def cmd_delete(db, doc):
    coll = db[doc["delete"]]
    removed = 0
    for statement in doc.get("deletes", []):
        query = statement.get("q", {})
        if statement.get("limit", 0) == 1:
            removed += coll.delete_one(query).deleted_count
        else:
            removed += coll.delete_many(query).deleted_count
    return {"n": removed, "ok": 1.0}


def cmd_find(db, doc):
    coll = db[doc["find"]]
    limit = abs(int(doc.get("limit", 0) or 0))
    cursor = coll.find(doc.get("filter") or {}, projection=doc.get("projection") or None,
                       skip=int(doc.get("skip", 0) or 0), limit=limit,
                       sort=_sort_spec(doc.get("sort")))
    docs = list(cursor)
    batch_size = 0 if doc.get("singleBatch") else int(doc.get("batchSize", 0) or 0)
    return _cursor_reply("%s.%s" % (db.name, coll.name), docs, batch_size, first=True)


def cmd_get_more(db, doc):
    cursor_id = int(doc["getMore"])
    if cursor_id not in _cursors:
        raise CommandError(43, "CursorNotFound", "cursor id %d not found" % cursor_id)
    namespace, rest = _cursors.pop(cursor_id)
    batch_size = int(doc.get("batchSize", 0) or 0)
    reply = _cursor_reply(namespace, rest, batch_size, first=False)
    if reply["cursor"]["id"]:
        # Keep the id the client knows.
        _cursors[cursor_id] = _cursors.pop(int(reply["cursor"]["id"]))
        reply["cursor"]["id"] = doc["getMore"]
    return reply


def cmd_kill_cursors(db, doc):
    killed = [c for c in doc.get("cursors", []) if _cursors.pop(int(c), None) is not None]
    return {"cursorsKilled": killed, "cursorsNotFound": [], "cursorsAlive": [], "cursorsUnknown": [],
            "ok": 1.0}


def cmd_find_and_modify(db, doc):
    coll = db[doc["findAndModify"]]
    query = doc.get("query") or {}
    sort = _sort_spec(doc.get("sort"))
    projection = doc.get("fields") or None
    existing = coll.find_one(query, sort=sort)
    if doc.get("remove"):
        if existing is not None:
            coll.delete_one({"_id": existing["_id"]})
        return {"lastErrorObject": {"n": 1 if existing else 0}, "value": existing, "ok": 1.0}
    update = doc.get("update")
    if update is None:
        raise CommandError(9, "FailedToParse", "Either an update or remove=true must be specified")
    upsert = bool(doc.get("upsert", False))
    return_new = ReturnDocument.AFTER if doc.get("new") else ReturnDocument.BEFORE
    is_operator_update = isinstance(update, list) or any(k.startswith("$") for k in update)
    try:
        if is_operator_update:
            value = coll.find_one_and_update(query, update, projection=projection, sort=sort,
                                             upsert=upsert, return_document=return_new)
        else:
            value = coll.find_one_and_replace(query, update, projection=projection, sort=sort,
                                              upsert=upsert, return_document=return_new)
    except DuplicateKeyError as error:
        details = getattr(error, "details", None) or {}
        raise CommandError(11000, "DuplicateKey", _message(error),
                           **{k: v for k, v in details.items() if k in ("keyPattern", "keyValue")})
    last_error = {"n": 1 if (existing is not None or upsert) else 0,
                  "updatedExisting": existing is not None}
    if existing is None and upsert and value is not None and "_id" in value:
        last_error["upserted"] = value["_id"]
    return {"lastErrorObject": last_error, "value": value, "ok": 1.0}


def cmd_count(db, doc):
    coll = db[doc["count"]]
    kwargs = {}
    if doc.get("limit"):
        kwargs["limit"] = abs(int(doc["limit"]))
    if doc.get("skip"):
        kwargs["skip"] = int(doc["skip"])
    return {"n": coll.count_documents(doc.get("query") or {}, **kwargs), "ok": 1.0}


def cmd_aggregate(db, doc):
    coll = db[doc["aggregate"]]
    docs = list(coll.aggregate(doc.get("pipeline", [])))
    batch_size = int((doc.get("cursor") or {}).get("batchSize", 0) or 0)
    return _cursor_reply("%s.%s" % (db.name, coll.name), docs, batch_size, first=True)


def cmd_create_indexes(db, doc):
    coll = db[doc["createIndexes"]]
    created_collection = coll.name not in db.list_collection_names()
    before = len(coll.index_information())
    existing = coll.index_information()
    for spec in doc.get("indexes", []):
        options = {k: v for k, v in spec.items() if k not in ("key", "v", "ns")}
        # Like MongoDB, re-creating an index that already exists with the same keys is a no-op
        # (mongomock would re-check uniqueness and ignore partialFilterExpression while doing it).
        if any(list(info.get("key", [])) == list(spec["key"].items()) for info in existing.values()):
            continue
        try:
            coll.create_index(list(spec["key"].items()), **options)
        except DuplicateKeyError as error:
            raise CommandError(11000, "DuplicateKey", _message(error))
    return {"createdCollectionAutomatically": created_collection, "numIndexesBefore": before,
            "numIndexesAfter": len(coll.index_information()), "ok": 1.0}


def cmd_list_indexes(db, doc):
    coll = db[doc["listIndexes"]]
    indexes = []
    for name, info in coll.index_information().items():
        entry = {"v": 2, "key": dict(info["key"]), "name": name}
        entry.update({k: v for k, v in info.items() if k not in ("key", "v")})
        indexes.append(entry)
    return _cursor_reply("%s.%s" % (db.name, coll.name), indexes, 0, first=True)


def cmd_list_collections(db, doc):
    names = db.list_collection_names()
    docs = [{"name": n, "type": "collection", "options": {}, "info": {"readOnly": False}} for n in names]
    return _cursor_reply("%s.$cmd.listCollections" % db.name, docs, 0, first=True)


def cmd_drop(db, doc):
    name = doc["drop"]
    if name not in db.list_collection_names():
        raise CommandError(26, "NamespaceNotFound", "ns not found")
    db.drop_collection(name)
    return {"ns": "%s.%s" % (db.name, name), "nIndexesWas": 1, "ok": 1.0}


def cmd_drop_database(db, doc):
    _client.drop_database(db.name)
    return {"dropped": db.name, "ok": 1.0}


def cmd_build_info(db, doc):
    return {"version": SERVER_VERSION, "versionArray": [5, 0, 0, 0], "bits": 64, "maxBsonObjectSize":
            16 * 1024 * 1024, "ok": 1.0}


COMMANDS = {
    "insert": cmd_insert,
    "update": cmd_update,
    "delete": cmd_delete,
    "find": cmd_find,
    "getmore": cmd_get_more,
    "killcursors": cmd_kill_cursors,
    "findandmodify": cmd_find_and_modify,
    "count": cmd_count,
    "aggregate": cmd_aggregate,
    "createindexes": cmd_create_indexes,
    "listindexes": cmd_list_indexes,
    "listcollections": cmd_list_collections,
    "drop": cmd_drop,
    "dropdatabase": cmd_drop_database,
    "buildinfo": cmd_build_info,
    "ping": lambda db, doc: {"ok": 1.0},
    "endsessions": lambda db, doc: {"ok": 1.0},
    "ismaster": lambda db, doc: _hello(doc),
    "hello": lambda db, doc: _hello(doc),
    "getparameter": lambda db, doc: {"ok": 1.0},
}


def handle(request):
    doc = request.doc
    if not getattr(request, "is_command", False) or not doc:
        request.fail("only commands are supported")
        return True
    name = next(iter(doc))
    if name == "$query":  # OP_QUERY wraps commands that carry a read preference.
        doc = doc["$query"]
        name = next(iter(doc))
    handler = COMMANDS.get(name.lower())
    db_name = doc.get("$db") or request.namespace
    body = {k: v for k, v in doc.items() if k not in _GENERIC_FIELDS}
    try:
        if handler is None:
            raise CommandError(59, "CommandNotFound", "no such command: '%s'" % name)
        with _lock:
            reply = handler(_client[db_name], body)
    except CommandError as error:
        reply = {"ok": 0.0, "errmsg": str(error), "code": error.code, "codeName": error.code_name}
        reply.update(error.extra)
    except OperationFailure as error:
        reply = {"ok": 0.0, "errmsg": _message(error), "code": error.code or 8, "codeName": "UnknownError"}
    except Exception as error:  # Any other failure is the stand-in's, reported like a server error.
        reply = {"ok": 0.0, "errmsg": "%s: %s" % (type(error).__name__, error), "code": 8,
                 "codeName": "UnknownError"}
    request.replies(reply)
    return True


def main():
    parser = argparse.ArgumentParser(description="MongoDB wire-protocol stand-in for tests")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick one)")
    parser.add_argument("--verbose", action="store_true", help="log every request and reply")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when standard input closes, so a test run that dies takes this with it")
    args = parser.parse_args()

    # A parent may start us with SIGTERM blocked (libdispatch worker threads block signals, and a spawned
    # child inherits the mask); unblock it before any thread starts, or terminating us would do nothing.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    server = mockupdb.MockupDB(port=args.port, verbose=args.verbose, request_timeout=int(1e6))
    server.autoresponds(handle)
    port = server.run()
    print("PORT %d" % port, flush=True)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        def watch_stdin():
            # The raw descriptor: a buffered reader's lock would abort interpreter shutdown.
            while os.read(0, 4096):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.wait(1):
        pass
    # Nothing is persisted, so there is nothing to flush: leave at once instead of waiting for every
    # connection thread; the kernel closes the sockets.
    os._exit(0)


if __name__ == "__main__":
    main()
