#ifndef CHATD_CMONGOC_SHIM_H
#define CHATD_CMONGOC_SHIM_H
#include <mongoc/mongoc.h>
#include <bson/bson.h>
#endif
