/* json.c: field-list validation of JSON objects. */
#include "control/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *type_name(enum jfield_type t)
{
	switch (t) {
	case JF_INT: return "an integer";
	case JF_BOOL: return "a boolean";
	case JF_STRING: return "a string";
	case JF_OBJECT: return "an object";
	default: return "a value";
	}
}

static bool type_ok(const json_t *v, enum jfield_type t)
{
	switch (t) {
	case JF_INT: return json_is_integer(v);
	case JF_BOOL: return json_is_boolean(v);
	case JF_STRING: return json_is_string(v);
	case JF_OBJECT: return json_is_object(v);
	default: return true;
	}
}

int jcheck(const json_t *v, const char *what, const struct jfield *fields, size_t n, char *err,
	   size_t err_size)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v)) {
		snprintf(err, err_size, "%s: expected a JSON object", what);
		return -EINVAL;
	}
	json_object_foreach((json_t *)v, key, val) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(key, fields[i].name) == 0)
				break;
		if (i == n) {
			snprintf(err, err_size, "%s: unknown field '%s'", what, key);
			return -EINVAL;
		}
		if (json_is_null(val) && !fields[i].required)
			continue;
		if (!type_ok(val, fields[i].type)) {
			snprintf(err, err_size, "%s: field '%s' must be %s", what, key,
				 type_name(fields[i].type));
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *f = json_object_get(v, fields[i].name);

		if (fields[i].required && (!f || json_is_null(f))) {
			snprintf(err, err_size, "%s: missing field '%s'", what, fields[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool jbool(const json_t *obj, const char *key, bool def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

long long jint(const json_t *obj, const char *key, long long def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}
