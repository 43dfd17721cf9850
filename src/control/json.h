/* json.h: strict checking of JSON objects (jansson) against a field list, with messages that
 * name the object and the field, as the API and the config file report them. */
#ifndef KILN_CONTROL_JSON_H
#define KILN_CONTROL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A size for the message buffers (`err`) the control functions fill: every message fits. They
 * take the buffer's size (`err_size`) and never write more, truncating a longer message. */
#define JSON_ERR_MAX 320

enum jfield_type { JF_INT, JF_BOOL, JF_STRING, JF_OBJECT, JF_ANY };

struct jfield {
	const char *name;
	enum jfield_type type;
	bool required;
};

/* Checks that `v` is an object whose keys are all in `fields`, that every required field is
 * present and that every present field has its type (null is accepted for optional fields).
 * `what` names the object in messages ("machine-config"). Returns 0 or -EINVAL with a message. */
int jcheck(const json_t *v, const char *what, const struct jfield *fields, size_t n, char *err,
	   size_t err_size);

/* Field accessors for objects that passed jcheck(): NULL/absent gives the default. */
const char *jstr(const json_t *obj, const char *key);
bool jbool(const json_t *obj, const char *key, bool def);
long long jint(const json_t *obj, const char *key, long long def);

#endif
