/* datason._speedups: the hot loops of encoder.py, decoder.py and fastpath.py in C.
 *
 * Same semantics as the Python walkers (which stay the reference and the fallback):
 * C handles the JSON types, UUIDs and naive/UTC datetimes itself, and the types the registry
 * hands it as the encoder and decoder meet them ("registered types" below: datetimes in any
 * zone, dates, times, timedeltas, Decimals, NumPy scalars and arrays, unregistered Enums and
 * dataclasses). Every other value, and every limit problem, goes to the Python walker
 * (`slow(obj, depth)`), which also raises the error. On the way out of an error each container
 * adds its path segment. The tags and marker keys it writes come from wire.py (configure).
 *
 * Sections: helpers; encoder (values -> tree); registered types; floats (the shortest digits, as orjson
 * and repr write them: Schubfach for doubles and float32 in _schubfach.h, Ryu for float16; tables made by
 * tools/schubfach_tables.py and tools/ryu_tables.py); writer (values -> JSON bytes); decoder (tree ->
 * values); parser (JSON text -> values); plain check.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* Out of line: containers and rare paths keep their large frames (a dict's pair buffer) out of write_value,
 * which every leaf passes through. */
#if defined(__GNUC__) || defined(__clang__)
#define COLD_PATH __attribute__((noinline))
#else
#define COLD_PATH
#endif
#if defined(__GLIBC__) || defined(__APPLE__)
#include <locale.h>
#include <stdlib.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif
#define HAVE_STRTOD_L 1
static locale_t c_locale; /* strtod_l in the C locale: correctly rounded, whatever LC_NUMERIC says */
#endif

static PyObject *DatasonError;   /* datason.errors.DatasonError */
static PyObject *DeserializationError, *SecurityError, *SerializationError;
static PyObject *path_segment;   /* datason.errors.path_segment */
static PyObject *TYPE_KEY, *VALUE_KEY, *TAG_UUID, *TAG_DATETIME, *STR_INT, *STR_IS_SAFE, *STR_ISOFORMAT;
static char *ENVELOPE_HEAD, *ENVELOPE_MID; /* '{"<TYPE_KEY>":' and ',"<VALUE_KEY>":', from wire.py */
static Py_ssize_t ENVELOPE_HEAD_LEN, ENVELOPE_MID_LEN;
static PyObject *UUID_TYPE, *SAFE_UNKNOWN, *FROMISOFORMAT, *RAW_JSON_TYPE, *STR_DATA;
static PyObject *INT_LIMIT, *INT_ONE; /* 2**64, 1 */
static Py_ssize_t uuid_int_offset, uuid_safe_offset; /* UUID's __slots__, when they are plain object slots */

/* ---- helpers --------------------------------------------------------------------------------- */

/* Prefix the pending DatasonError's path with a segment. */
static void add_parent(PyObject *segment) {
    PyObject *type, *value, *tb;
    if (segment == NULL) return;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && PyObject_IsInstance(value, DatasonError) == 1) {
        PyObject *r = PyObject_CallMethod(value, "with_parent", "O", segment);
        Py_XDECREF(r);
        if (r == NULL) PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
}

static void add_index(Py_ssize_t i) {
    PyObject *seg = PyUnicode_FromFormat("[%zd]", i);
    if (seg == NULL) { PyErr_Clear(); return; }
    add_parent(seg);
    Py_DECREF(seg);
}

static void add_key(PyObject *key) {
    PyObject *type, *value, *tb, *seg;
    PyErr_Fetch(&type, &value, &tb);
    seg = PyObject_CallOneArg(path_segment, key);
    if (seg == NULL) PyErr_Clear();
    PyErr_Restore(type, value, tb);
    if (seg != NULL) { add_parent(seg); Py_DECREF(seg); }
}

static PyObject *envelope(PyObject *tag, PyObject *payload) {
    PyObject *d;
    if (payload == NULL) return NULL;
    d = PyDict_New();
    if (d == NULL || PyDict_SetItem(d, TYPE_KEY, tag) < 0 || PyDict_SetItem(d, VALUE_KEY, payload) < 0) {
        Py_XDECREF(d);
        Py_DECREF(payload);
        return NULL;
    }
    Py_DECREF(payload);
    return d;
}

/* The value of an exact int of one internal digit (30 bits: the ints of most data), else 0: no call made. */
static inline int compact_int(PyObject *obj, long long *v) {
#if PY_VERSION_HEX >= 0x030C0000
    if (!PyUnstable_Long_IsCompact((PyLongObject *)obj)) return 0;
    *v = (long long)PyUnstable_Long_CompactValue((PyLongObject *)obj);
    return 1;
#else
    Py_ssize_t size = Py_SIZE(obj);
    if (size < -1 || size > 1) return 0;
    *v = (long long)size * (long long)((PyLongObject *)obj)->ob_digit[0];
    return 1;
#endif
}

/* Is an exact int inside [-2**63, 2**64)? */
static int int_in_range(PyObject *obj) {
    int overflow;
    PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) return 1;
    if (overflow < 0) return 0;
    return PyObject_RichCompareBool(obj, INT_LIMIT, Py_LT);
}

/* Does a str hold a lone surrogate (which has no UTF-8 form)? Only 2- and 4-byte strings can. */
static int has_surrogate(PyObject *s) {
    int kind = PyUnicode_KIND(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *d = PyUnicode_2BYTE_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++)
            if ((d[i] & 0xF800) == 0xD800) return 1;
    } else if (kind == PyUnicode_4BYTE_KIND) {
        const Py_UCS4 *d = PyUnicode_4BYTE_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++)
            if (d[i] >= 0xD800 && d[i] <= 0xDFFF) return 1;
    }
    return 0;
}

/* Can this string go out as it is (length limit, valid Unicode)? */
static inline int text_ok(PyObject *s, Py_ssize_t max_str) {
    return PyUnicode_GET_LENGTH(s) <= max_str && (PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND || !has_surrogate(s));
}

/* The 36 characters of a UUID's canonical form into out; -1 with an error set. */
static int put_uuid(char *out, PyObject *u) {
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    PyObject *value = NULL;
    if (uuid_int_offset > 0) value = *(PyObject **)((char *)u + uuid_int_offset); /* the int slot, borrowed */
    if (value != NULL) Py_INCREF(value);
    else value = PyObject_GetAttr(u, STR_INT);
    int j = 0;
    if (value == NULL) return -1;
    if (!PyLong_Check(value)) { Py_DECREF(value); PyErr_SetString(PyExc_TypeError, "UUID.int"); return -1; }
#if PY_VERSION_HEX >= 0x030D0000
    if (PyLong_AsNativeBytes(value, b, 16, Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER) < 0) {
        Py_DECREF(value); return -1;
    }
#else
    if (_PyLong_AsByteArray((PyLongObject *)value, b, 16, 0, 0) < 0) { Py_DECREF(value); return -1; }
#endif
    Py_DECREF(value);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    return 0;
}

static PyObject *uuid_text(PyObject *u) {
    char out[36];
    return put_uuid(out, u) < 0 ? NULL : PyUnicode_FromStringAndSize(out, 36);
}

static signed char hex_table[256]; /* -1, or the value of a hex digit */

static inline int hexval(Py_UCS4 c) { return c < 256 ? hex_table[c] : -1; }

/* A UUID from its canonical 36-character form; NULL without an error set if the text is not canonical. */
static PyObject *uuid_from_text(PyObject *text) {
    unsigned char b[16];
    int k = 0;
    PyObject *value, *u;
    if (PyUnicode_GET_LENGTH(text) != 36 || PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) return NULL;
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return NULL;
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) return NULL;
        b[k++] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    value = _PyLong_FromByteArray(b, 16, 0, 0);
    if (value == NULL) return NULL;
    u = ((PyTypeObject *)UUID_TYPE)->tp_alloc((PyTypeObject *)UUID_TYPE, 0);
    if (u == NULL) { Py_DECREF(value); return NULL; }
    if (uuid_int_offset > 0 && uuid_safe_offset > 0) { /* the slots, as object.__setattr__ would set them */
        *(PyObject **)((char *)u + uuid_int_offset) = value;
        *(PyObject **)((char *)u + uuid_safe_offset) = Py_NewRef(SAFE_UNKNOWN);
        /* An int and an enum member cannot form a cycle: keep the collector from scanning it. */
        if (PyObject_GC_IsTracked(u)) PyObject_GC_UnTrack(u);
        return u;
    }
    if (PyObject_GenericSetAttr(u, STR_INT, value) < 0 || PyObject_GenericSetAttr(u, STR_IS_SAFE, SAFE_UNKNOWN) < 0) {
        Py_DECREF(u);
        Py_DECREF(value);
        return NULL;
    }
    Py_DECREF(value);
    return u;
}

/* isoformat() of a naive or UTC datetime, written directly (same text as datetime.isoformat). */
static inline char *put2(char *o, int v) {
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

/* "YYYY-MM-DD" and "HH:MM:SS[.ffffff]" as isoformat() writes them; each returns the end. */
static char *put_date(char *o, int year, int month, int day) {
    o = put2(o, year / 100);
    o = put2(o, year % 100);
    *o++ = '-';
    o = put2(o, month);
    *o++ = '-';
    return put2(o, day);
}

static char *put_clock(char *o, int hour, int minute, int second, int us) {
    o = put2(o, hour);
    *o++ = ':';
    o = put2(o, minute);
    *o++ = ':';
    o = put2(o, second);
    if (us) {
        *o++ = '.';
        o = put2(o, us / 10000);
        o = put2(o, us / 100 % 100);
        o = put2(o, us % 100);
    }
    return o;
}

/* The wall time of a datetime as isoformat() writes it, without offset; returns the end. */
static char *put_iso(char *o, PyObject *d) {
    o = put_date(o, PyDateTime_GET_YEAR(d), PyDateTime_GET_MONTH(d), PyDateTime_GET_DAY(d));
    *o++ = 'T';
    return put_clock(o, PyDateTime_DATE_GET_HOUR(d), PyDateTime_DATE_GET_MINUTE(d), PyDateTime_DATE_GET_SECOND(d),
                     PyDateTime_DATE_GET_MICROSECOND(d));
}

static PyObject *iso_datetime(PyObject *d, int utc) {
    char buf[40], *o = put_iso(buf, d);
    if (utc) {
        memcpy(o, "+00:00", 6);
        o += 6;
    }
    return PyUnicode_FromStringAndSize(buf, o - buf);
}

/* ---- encoder --------------------------------------------------------------------------------- */

#define TZ_CACHE 4

typedef struct {
    PyObject_HEAD
    PyObject *slow; /* encoder.py_value(obj, depth) */
    PyObject *ctx;  /* the encoder's EncodeContext, for the hooks C calls (untagged) */
    Py_ssize_t max_depth, max_size, max_str, compact_above;
    int typed, tag_uuid, iso_dates, strict, arrays; /* arrays: 0 Python writes them, 1 readable when small, 2 always */
    PyObject *tz_obj[TZ_CACHE], *tz_form[TZ_CACHE]; /* typed mode: how datetimes in a tzinfo are written */
    int tz_next;
} Walker;

/* A typed value's envelope is a 2-member object at depth: within max_depth and max_size? */
static inline int envelope_fits(Walker *w, Py_ssize_t depth) { return depth <= w->max_depth && w->max_size >= 2; }

/* ---- registered types: handlers tell C which exact types it may write itself ---------------------- */
/* Python registers a type the first time its handler (or the natural form of an unregistered Enum or
 * dataclass) writes a value of it: register_type(type, kind, tag, extra). What C then writes for each
 * kind (typed | plain) is what the handler's Python code writes:
 *   datetime    ISO string; {"iso", "tz"?, "fold"?} for a named zone or a fold | isoformat() (any tzinfo)
 *   date, time  isoformat() (naive times only) | the same
 *   timedelta   {"days", "seconds", "microseconds"} | ISO 8601 duration
 *   str         str(value): Decimal, paths | the same
 *   np_bool, np_int, np_float, np_float32, np_float16   the number | the same (finite floats only)
 *   np_complex64, np_complex128   {"real", "imag"} | the same (finite parts only)
 *   ndarray     bool/int/float32/float64 native C-order arrays: {"dtype", "shape", "data"} | nested lists
 *   enum        an unregistered Enum: its value, encoded (never in strict mode)
 *   fields      an unregistered dataclass or attrs class: {name: value}, encoded (never in strict mode)
 *   untagged    a family with a natural form and no tag (pydantic models): extra(value, ctx), encoded
 *               (never in strict mode)
 *   enum_tagged an Enum registered with register_type's default hooks: the member's value, encoded under
 *               the class's tag | the value, encoded; read back by calling the class on a scalar payload
 * Anything else about a value (a limit, a non-finite float, a tzinfo without key or fixed offset, an
 * exception in user code) goes to the Python walker, which decides and raises. The table is cleared
 * whenever the registry changes (a user handler may replace a built-in one). */

enum { K_DATETIME = 1, K_DATE, K_TIME, K_TIMEDELTA, K_STR, K_NP_BOOL, K_NP_INT, K_NP_FLOAT, K_NP_FLOAT32, K_NP_FLOAT16,
       K_NP_COMPLEX64, K_NP_COMPLEX128, K_NDARRAY, K_ENUM, K_FIELDS, K_UNTAGGED, K_ENUM_TAGGED, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"", "datetime", "date", "time", "timedelta", "str", "np_bool", "np_int",
                                                "np_float", "np_float32", "np_float16", "np_complex64",
                                                "np_complex128", "ndarray", "enum", "fields", "untagged",
                                                "enum_tagged"};
static PyObject *fast_types; /* type -> (kind, tag, extra) */
static PyObject *fast_tags;  /* tag -> (kind, extra): envelopes the reviver decodes itself */
static PyObject *STR_REAL, *STR_IMAG, *STR_UTCOFFSET, *STR_TZNAME, *STR_KEY, *STR_ZONE, *STR_VALUE_, *STR_ISO, *STR_TZ, *STR_FOLD,
    *STR_DAYS, *STR_SECONDS, *STR_MICROSECONDS, *STR_DTYPE, *STR_SHAPE, *STR_UTC;

static double f32_json_double(float f); /* below, with the float formatting */
static double f16_json_double(double v);

/* The registered entry for an exact type (a new reference), or NULL. */
/* Lookups in fast_types, cached per type (found or not) in a small direct-mapped table; emptied whenever
 * fast_types changes, so an entry is alive while cached and a newly registered type is seen at once. */
#define ENTRY_CACHE 64
static struct { PyTypeObject *type; PyObject *entry; int kind, layout; } entry_cache[ENTRY_CACHE];

static void forget_entries(void) {
    for (int i = 0; i < ENTRY_CACHE; i++) {
        entry_cache[i].type = NULL;
        Py_CLEAR(entry_cache[i].entry);
    }
}

/* A NumPy scalar's value read from its object (PyObject_HEAD, then the value, as NumPy lays its scalars
 * out): RAW_SCALAR | itemsize << 1 | signed << 5 when register_type checked that layout on sample values,
 * else 0 (the value is asked for through the number protocol). */
#define RAW_SCALAR 1

static inline void *scalar_value(PyObject *obj) { return (char *)obj + sizeof(PyObject); }

/* The registered entry for an exact type (borrowed from the cache; its kind and layout in *kind, *layout), or
 * NULL. It stays alive until Python code runs: a registration empties the cache. */
static PyObject *peek_entry(PyTypeObject *t, int *kind, int *layout) {
    size_t slot = ((uintptr_t)t >> 5) % ENTRY_CACHE;
    if (entry_cache[slot].type != t) {
        PyObject *entry = fast_types == NULL ? NULL : PyDict_GetItemWithError(fast_types, (PyObject *)t);
        if (entry == NULL) PyErr_Clear();
        entry_cache[slot].type = t;
        Py_XSETREF(entry_cache[slot].entry, Py_XNewRef(entry));
        long code = entry == NULL ? 0 : PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
        entry_cache[slot].kind = (int)(code & 0xFF);
        entry_cache[slot].layout = (int)(code >> 8);
    }
    *kind = entry_cache[slot].kind;
    *layout = entry_cache[slot].layout;
    return entry_cache[slot].entry;
}

/* The registered entry for an exact type (a new reference; its kind and layout in *kind, *layout), or NULL. */
static inline PyObject *fast_entry(PyTypeObject *t, int *kind, int *layout) {
    return Py_XNewRef(peek_entry(t, kind, layout));
}

/* "+HH:MM[:SS[.ffffff]]" as isoformat() appends a utcoffset; -1 when it is not a timedelta within a day. */
static int put_offset(char *o, PyObject *delta) {
    if (!PyDelta_Check(delta)) return -1;
    long long us = (long long)PyDateTime_DELTA_GET_DAYS(delta) * 86400000000LL +
                   (long long)PyDateTime_DELTA_GET_SECONDS(delta) * 1000000LL +
                   PyDateTime_DELTA_GET_MICROSECONDS(delta);
    char *start = o;
    *o++ = us < 0 ? '-' : '+';
    if (us < 0) us = -us;
    if (us >= 86400000000LL) return -1;
    int sec = (int)(us / 1000000), micro = (int)(us % 1000000);
    o = put2(o, sec / 3600);
    *o++ = ':';
    o = put2(o, sec / 60 % 60);
    if (sec % 60 || micro) {
        *o++ = ':';
        o = put2(o, sec % 60);
    }
    if (micro) {
        *o++ = '.';
        o = put2(o, micro / 10000);
        o = put2(o, micro / 100 % 100);
        o = put2(o, micro % 100);
    }
    return (int)(o - start);
}

/* Typed mode: how a datetime in tzinfo tz (with utcoffset `offset`) is written. Py_None: as its ISO string;
 * a str: the zone key of {"iso", "tz"}; Py_False: Python decides. Cached per tzinfo for the walk. */
static PyObject *tz_form(Walker *w, PyObject *tz, PyObject *offset) {
    for (int i = 0; i < TZ_CACHE; i++)
        if (w->tz_obj[i] == tz) return w->tz_form[i];
    PyObject *form = Py_False;
    if (Py_TYPE(tz) == Py_TYPE(PyDateTime_TimeZone_UTC)) {
        /* a fixed offset: the string, unless it has a name of its own or sub-second offset */
        char buf[40] = "UTC";
        int n = -1;
        if (PyDelta_Check(offset) && PyDateTime_DELTA_GET_MICROSECONDS(offset) == 0)
            n = PyDateTime_DELTA_GET_DAYS(offset) == 0 && PyDateTime_DELTA_GET_SECONDS(offset) == 0
                    ? 0 : put_offset(buf + 3, offset);
        if (n >= 0) {
            buf[3 + n] = 0;
            PyObject *name = PyObject_CallMethodOneArg(tz, STR_TZNAME, Py_None);
            if (name != NULL && PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, buf) == 0)
                form = Py_None;
            Py_XDECREF(name);
        }
    } else { /* zone_key(): key, else zone, when a str */
        PyObject *key = PyObject_GetAttr(tz, STR_KEY);
        if (key == NULL || PyObject_IsTrue(key) != 1) {
            PyErr_Clear();
            Py_XSETREF(key, PyObject_GetAttr(tz, STR_ZONE));
        }
        if (key != NULL && PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) <= w->max_str && !has_surrogate(key))
            form = key;
        else
            Py_XDECREF(key);
        if (form == Py_False) form = Py_NewRef(Py_False);
        PyErr_Clear();
        goto store;
    }
    PyErr_Clear();
    Py_INCREF(form);
store:;
    int i = w->tz_next;
    w->tz_next = (i + 1) % TZ_CACHE;
    Py_XSETREF(w->tz_obj[i], Py_NewRef(tz));
    Py_XSETREF(w->tz_form[i], form);
    return form;
}

/* The double written for a finite NumPy float of a kind (float16/32: their own shortest digits); NaN or an
 * infinity when it is not finite (Python writes those per nan_handling). */
static inline double np_json_double(double v, int kind) {
    if (!isfinite(v)) return v;
    if (kind == K_NP_FLOAT32) return f32_json_double((float)v);
    if (kind == K_NP_FLOAT16) return f16_json_double(v);
    return v;
}

/* The value of a NumPy bool, int or float scalar, read from the object when its layout was checked (see
 * scalar_layout), else through the number protocol. */
typedef struct {
    int b, negative;               /* bool; the sign of an int read raw */
    unsigned long long magnitude;  /* an int read raw */
    PyObject *integer;             /* an int asked for (a new reference), else NULL */
    double v;                      /* a float's value (float16/32 exactly as a double) */
} NpNumber;

/* 1 and *n filled; 0 when Python must write it (a non-finite float, an error, cleared). */
static int np_number(PyObject *obj, int kind, int layout, NpNumber *n) {
    n->integer = NULL;
    if (kind == K_NP_BOOL) {
        if (layout & RAW_SCALAR) n->b = *(unsigned char *)scalar_value(obj) != 0;
        else if ((n->b = PyObject_IsTrue(obj)) < 0) { PyErr_Clear(); return 0; }
        return 1;
    }
    if (kind == K_NP_INT && (layout & RAW_SCALAR)) {
        int size = layout >> 1 & 15, is_signed = layout >> 5 & 1;
        long long x = 0;
        unsigned long long u = 0;
        if (size == 1) { if (is_signed) x = *(int8_t *)scalar_value(obj); else u = *(uint8_t *)scalar_value(obj); }
        else if (size == 2) { int16_t a; uint16_t c; memcpy(&a, scalar_value(obj), 2); memcpy(&c, scalar_value(obj), 2); if (is_signed) x = a; else u = c; }
        else if (size == 4) { int32_t a; uint32_t c; memcpy(&a, scalar_value(obj), 4); memcpy(&c, scalar_value(obj), 4); if (is_signed) x = a; else u = c; }
        else { memcpy(&x, scalar_value(obj), 8); memcpy(&u, scalar_value(obj), 8); }
        n->negative = is_signed && x < 0;
        n->magnitude = !is_signed ? u : x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
        return 1;
    }
    if (kind == K_NP_INT) {
        if ((n->integer = PyNumber_Index(obj)) == NULL) { PyErr_Clear(); return 0; }
        return 1;
    }
    if (kind == K_NP_FLOAT32 && (layout & RAW_SCALAR)) {
        float f;
        memcpy(&f, scalar_value(obj), 4);
        n->v = f;
    } else if (kind == K_NP_FLOAT && (layout & RAW_SCALAR)) { /* float64: no subclass check of float */
        memcpy(&n->v, scalar_value(obj), 8);
    } else {
        n->v = kind == K_NP_FLOAT && PyFloat_Check(obj) ? PyFloat_AS_DOUBLE(obj) : PyFloat_AsDouble(obj);
        if (n->v == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
    }
    return isfinite(n->v); /* NaN and infinity: nan_handling, in Python */
}

/* A dict of up to three members, built from C pairs; NULL on error. */
static PyObject *small_dict(PyObject *k1, PyObject *v1, PyObject *k2, PyObject *v2, PyObject *k3, PyObject *v3) {
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    if (PyDict_SetItem(d, k1, v1) < 0 || (k2 && PyDict_SetItem(d, k2, v2) < 0) || (k3 && PyDict_SetItem(d, k3, v3) < 0)) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* A typed payload object of n members at depth + 1 (under its envelope at depth): within the limits? */
static inline int payload_fits(Walker *w, Py_ssize_t depth, Py_ssize_t n) {
    return envelope_fits(w, depth) && depth + 1 <= w->max_depth && n <= w->max_size;
}

/* The text of a leaf kind, or NULL (with an error, or without one when Python must decide). */
static PyObject *leaf_text(Walker *w, PyObject *obj, int kind, PyObject **form, int *fold) {
    char buf[96], *o = buf;
    *form = Py_None;
    *fold = 0;
    if (kind == K_DATETIME) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
        if (!w->iso_dates) return NULL;
        *fold = PyDateTime_DATE_GET_FOLD(obj);
        o = put_iso(o, obj);
        if (tz != Py_None) {
            PyObject *offset = PyObject_CallMethodOneArg(tz, STR_UTCOFFSET, obj);
            if (offset == NULL) { PyErr_Clear(); return NULL; }
            int n = offset == Py_None ? 0 : put_offset(o, offset);
            if (n >= 0 && w->typed && tz != PyDateTime_TimeZone_UTC) *form = tz_form(w, tz, offset);
            Py_DECREF(offset);
            if (n < 0 || *form == Py_False) return NULL;
            o += n;
        }
    } else if (kind == K_DATE) {
        o = put_date(o, PyDateTime_GET_YEAR(obj), PyDateTime_GET_MONTH(obj), PyDateTime_GET_DAY(obj));
    } else if (kind == K_TIME) {
        if (PyDateTime_TIME_GET_TZINFO(obj) != Py_None || (w->typed && PyDateTime_TIME_GET_FOLD(obj))) return NULL;
        o = put_clock(o, PyDateTime_TIME_GET_HOUR(obj), PyDateTime_TIME_GET_MINUTE(obj), PyDateTime_TIME_GET_SECOND(obj),
                      PyDateTime_TIME_GET_MICROSECOND(obj));
    } else if (kind == K_TIMEDELTA) { /* plain mode: the ISO 8601 duration of handlers.builtins.iso_duration */
        long long days = PyDateTime_DELTA_GET_DAYS(obj), secs = PyDateTime_DELTA_GET_SECONDS(obj);
        long long us = PyDateTime_DELTA_GET_MICROSECONDS(obj);
        if (days < 0) { /* abs(): negate, then normalise seconds and microseconds into range */
            *o++ = '-';
            days = -days;
            secs = -secs;
            us = -us;
            if (us < 0) { us += 1000000; secs -= 1; }
            if (secs < 0) { secs += 86400; days -= 1; }
        }
        *o++ = 'P';
        if (days) o += sprintf(o, "%lldD", days);
        int hours = (int)(secs / 3600), minutes = (int)(secs / 60 % 60), seconds = (int)(secs % 60);
        if (hours || minutes || seconds || us || !days) *o++ = 'T';
        if (hours) o += sprintf(o, "%dH", hours);
        if (minutes) o += sprintf(o, "%dM", minutes);
        if (seconds || us || !(days || hours || minutes)) {
            o += sprintf(o, "%d", seconds);
            if (us) {
                int n = sprintf(o, ".%06lld", us);
                while (o[n - 1] == '0') n--;
                o += n;
            }
            *o++ = 'S';
        }
    } else if (kind == K_STR) {
        PyObject *text = PyObject_Str(obj);
        if (text == NULL) { PyErr_Clear(); return NULL; }
        if (!PyUnicode_CheckExact(text) || !text_ok(text, w->max_str)) { Py_DECREF(text); return NULL; }
        return text;
    } else {
        return NULL;
    }
    if (o - buf > w->max_str) return NULL;
    return PyUnicode_FromStringAndSize(buf, o - buf);
}

/* A registered leaf value as the JSON-safe tree the Python walker would return; NULL with an error, or NULL
 * without one when Python must decide. */
static PyObject *fast_leaf(Walker *w, PyObject *obj, int kind, int layout, PyObject *tag, Py_ssize_t depth) {
    PyObject *value = NULL, *form;
    int fold;
    if (w->max_str < 64) return NULL; /* room for every key and text below: else Python checks each */
    switch (kind) {
        case K_NP_BOOL:
        case K_NP_INT:
        case K_NP_FLOAT:
        case K_NP_FLOAT32:
        case K_NP_FLOAT16: {
            NpNumber n;
            if (!np_number(obj, kind, layout, &n)) return NULL;
            if (kind == K_NP_BOOL) value = Py_NewRef(n.b ? Py_True : Py_False);
            else if (n.integer != NULL) value = n.integer;
            else if (kind == K_NP_INT)
                value = n.negative ? PyLong_FromLongLong((long long)(0ULL - n.magnitude)) : PyLong_FromUnsignedLongLong(n.magnitude);
            else value = PyFloat_FromDouble(np_json_double(n.v, kind));
            if (value == NULL) return NULL;
            break;
        }
        case K_NP_COMPLEX64:
        case K_NP_COMPLEX128: {
            Py_complex c = PyComplex_AsCComplex(obj);
            if (c.real == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return NULL; }
            int part = kind == K_NP_COMPLEX64 ? K_NP_FLOAT32 : K_NP_FLOAT;
            double re = np_json_double(c.real, part), im = np_json_double(c.imag, part);
            if (!isfinite(re) || !isfinite(im) || (w->typed ? !payload_fits(w, depth, 2) : (depth > w->max_depth || w->max_size < 2)))
                return NULL;
            PyObject *r = PyFloat_FromDouble(re), *i = PyFloat_FromDouble(im);
            if (r && i) value = small_dict(STR_REAL, r, STR_IMAG, i, NULL, NULL);
            Py_XDECREF(r);
            Py_XDECREF(i);
            if (value == NULL) return NULL;
            break;
        }
        case K_TIMEDELTA:
            if (w->typed) {
                if (!payload_fits(w, depth, 3)) return NULL;
                PyObject *d = PyLong_FromLong(PyDateTime_DELTA_GET_DAYS(obj));
                PyObject *s = PyLong_FromLong(PyDateTime_DELTA_GET_SECONDS(obj));
                PyObject *u = PyLong_FromLong(PyDateTime_DELTA_GET_MICROSECONDS(obj));
                if (d && s && u) value = small_dict(STR_DAYS, d, STR_SECONDS, s, STR_MICROSECONDS, u);
                Py_XDECREF(d);
                Py_XDECREF(s);
                Py_XDECREF(u);
                return value == NULL ? NULL : envelope(tag, value);
            }
            /* fall through: plain mode writes text */
        default:
            value = leaf_text(w, obj, kind, &form, &fold);
            if (value == NULL) return NULL;
            if (w->typed && (form != Py_None || fold)) {
                PyObject *payload;
                if (!payload_fits(w, depth, 1 + (form != Py_None) + fold)) { Py_DECREF(value); return NULL; }
                if (form != Py_None)
                    payload = small_dict(STR_ISO, value, STR_TZ, form, fold ? STR_FOLD : NULL, INT_ONE);
                else
                    payload = small_dict(STR_ISO, value, STR_FOLD, INT_ONE, NULL, NULL);
                Py_DECREF(value);
                return payload == NULL ? NULL : envelope(tag, payload);
            }
    }
    if (!w->typed) return value;
    if (!envelope_fits(w, depth)) { Py_DECREF(value); return NULL; }
    return envelope(tag, value);
}

/* The natural form of an unregistered Enum (its value) or dataclass ({field: value}); NULL as above. */
static PyObject *natural_form(Walker *w, PyObject *obj, int kind, PyObject *extra) {
    if (w->strict) return NULL;
    if (kind == K_UNTAGGED) { /* the hook's natural form (Python redoes it, and raises, when it fails here) */
        PyObject *v = PyObject_CallFunctionObjArgs(extra, obj, w->ctx, NULL);
        if (v == NULL) PyErr_Clear();
        return v;
    }
    if (kind == K_ENUM) {
        PyObject *v = PyObject_GetAttr(obj, STR_VALUE_);
        if (v == NULL) PyErr_Clear();
        return v;
    }
    if (kind != K_FIELDS || !PyTuple_Check(extra) || PyTuple_GET_SIZE(extra) != 2) return NULL;
    extra = PyTuple_GET_ITEM(extra, 0); /* the names in field order (then sorted: for the writer) */
    Py_ssize_t n = PyTuple_GET_SIZE(extra);
    PyObject *d = _PyDict_NewPresized(n);
    for (Py_ssize_t i = 0; d != NULL && i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(extra, i), *v = PyObject_GetAttr(obj, name);
        if (v == NULL || PyDict_SetItem(d, name, v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    if (d == NULL) PyErr_Clear();
    return d;
}

static PyObject *call_slow(Walker *w, PyObject *obj, Py_ssize_t depth) {
    PyObject *d = PyLong_FromSsize_t(depth), *r;
    if (d == NULL) return NULL;
    r = PyObject_CallFunctionObjArgs(w->slow, obj, d, NULL);
    Py_DECREF(d);
    return r;
}

static PyObject *enc_value(Walker *w, PyObject *obj, Py_ssize_t depth);

static PyObject *enc_list(Walker *w, PyObject *obj, Py_ssize_t depth) {
    Py_ssize_t n = PyList_GET_SIZE(obj);
    PyObject *out = NULL; /* copy-on-write: stays NULL while every item encodes to itself */
    if (depth > w->max_depth || n > w->max_size) return call_slow(w, obj, depth);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item, *enc;
        if (i >= PyList_GET_SIZE(obj)) { Py_XDECREF(out); PyErr_SetString(PyExc_RuntimeError, "list changed size"); return NULL; }
        item = PyList_GET_ITEM(obj, i);
        Py_INCREF(item);
        enc = enc_value(w, item, depth + 1);
        Py_DECREF(item);
        if (enc == NULL) { add_index(i); Py_XDECREF(out); return NULL; }
        if (out == NULL && enc != item) {
            out = PyList_New(n);
            if (out == NULL) { Py_DECREF(enc); return NULL; }
            for (Py_ssize_t j = 0; j < i; j++) PyList_SET_ITEM(out, j, Py_NewRef(PyList_GET_ITEM(obj, j)));
        }
        if (out != NULL) PyList_SET_ITEM(out, i, enc); else Py_DECREF(enc);
    }
    return out != NULL ? out : Py_NewRef(obj);
}

static PyObject *enc_dict(Walker *w, PyObject *obj, Py_ssize_t depth) {
    Py_ssize_t pos = 0;
    PyObject *key, *item, *out;
    if (depth > w->max_depth || PyDict_GET_SIZE(obj) > w->max_size) return call_slow(w, obj, depth);
    if (PyDict_Contains(obj, TYPE_KEY) || PyDict_Contains(obj, VALUE_KEY)) return call_slow(w, obj, depth);
    out = _PyDict_NewPresized(PyDict_GET_SIZE(obj));
    if (out == NULL) return NULL;
    while (PyDict_Next(obj, &pos, &key, &item)) {
        PyObject *enc;
        if (!PyUnicode_CheckExact(key) || !text_ok(key, w->max_str)) {
            Py_DECREF(out);
            return call_slow(w, obj, depth);
        }
        Py_INCREF(key);
        Py_INCREF(item);
        enc = enc_value(w, item, depth + 1);
        Py_DECREF(item);
        if (enc == NULL || PyDict_SetItem(out, key, enc) < 0) {
            add_key(key);
            Py_DECREF(key);
            Py_XDECREF(enc);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(enc);
    }
    return out;
}

static PyObject *enc_value(Walker *w, PyObject *obj, Py_ssize_t depth) {
    PyTypeObject *t = Py_TYPE(obj);
    PyObject *r;
    if (t == &PyUnicode_Type) {
        if (!text_ok(obj, w->max_str)) return call_slow(w, obj, depth);
        return Py_NewRef(obj);
    }
    if (t == &PyFloat_Type) {
        double v = PyFloat_AS_DOUBLE(obj);
        if (v - v == 0.0) return Py_NewRef(obj);
        return call_slow(w, obj, depth);
    }
    if (t == &PyLong_Type) {
        int ok = int_in_range(obj);
        if (ok < 0) return NULL;
        return ok ? Py_NewRef(obj) : call_slow(w, obj, depth);
    }
    if (obj == Py_None || t == &PyBool_Type) return Py_NewRef(obj);
    if (t == &PyList_Type || t == &PyDict_Type) {
        if (Py_EnterRecursiveCall(" while encoding")) return NULL;
        r = t == &PyList_Type ? enc_list(w, obj, depth) : enc_dict(w, obj, depth);
        Py_LeaveRecursiveCall();
        return r;
    }
    if ((PyObject *)t == UUID_TYPE && w->max_str >= 36 && (!w->tag_uuid || envelope_fits(w, depth))) {
        if (!w->tag_uuid) return uuid_text(obj);
        return envelope(TAG_UUID, uuid_text(obj));
    }
    if (t == PyDateTimeAPI->DateTimeType && w->iso_dates && !PyDateTime_DATE_GET_FOLD(obj) && w->max_str >= 32 &&
        (!w->typed || envelope_fits(w, depth))) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
        if (tz == Py_None || tz == PyDateTime_TimeZone_UTC) {
            r = iso_datetime(obj, tz != Py_None);
            return w->typed ? envelope(TAG_DATETIME, r) : r;
        }
    }
    int kind, layout;
    PyObject *entry = fast_entry(t, &kind, &layout);
    if (entry != NULL) {
        if (kind == K_ENUM_TAGGED && (!w->typed || envelope_fits(w, depth))) {
            PyObject *value = PyObject_GetAttr(obj, STR_VALUE_), *tag = Py_NewRef(PyTuple_GET_ITEM(entry, 1));
            Py_DECREF(entry);
            if (value == NULL) { PyErr_Clear(); Py_DECREF(tag); return call_slow(w, obj, depth); }
            r = enc_value(w, value, w->typed ? depth + 1 : depth);
            Py_DECREF(value);
            r = w->typed && r != NULL ? envelope(tag, r) : r;
            Py_DECREF(tag);
            return r;
        }
        if (kind == K_ENUM || kind == K_FIELDS || kind == K_UNTAGGED) {
            PyObject *natural = natural_form(w, obj, kind, PyTuple_GET_ITEM(entry, 2));
            Py_DECREF(entry);
            if (natural == NULL) return call_slow(w, obj, depth);
            r = enc_value(w, natural, depth);
            Py_DECREF(natural);
            return r;
        }
        r = kind == K_NDARRAY ? NULL : fast_leaf(w, obj, kind, layout, PyTuple_GET_ITEM(entry, 1), depth);
        Py_DECREF(entry);
        if (r != NULL || PyErr_Occurred()) return r;
    }
    return call_slow(w, obj, depth);
}

static PyObject *Walker_encode(Walker *w, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "value(obj, depth)"); return NULL; }
    Py_ssize_t depth = PyLong_AsSsize_t(args[1]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    return enc_value(w, args[0], depth);
}

/* ---- floats: the shortest digits that read back, spelled as orjson and repr() spell them ---------- */

static const double EXACT_POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* c * 10**k as the nearest double. */
static double decimal_double(uint64_t c, int k) {
    if (c < (1ULL << 53) && k >= -22 && k <= 22) /* exact operands: one correctly rounded operation */
        return k >= 0 ? (double)c * EXACT_POW10[k] : (double)c / EXACT_POW10[-k];
    char text[48];
    snprintf(text, sizeof text, "%llue%d", (unsigned long long)c, k);
#ifdef HAVE_STRTOD_L
    return strtod_l(text, NULL, c_locale);
#else
    return strtod(text, NULL);
#endif
}

/* ---- floats: the shortest digits that read back, the closest of them ------------------------------- */
/* Doubles and float32 by Schubfach (_schubfach.h); float16 by Ryu (Ulf Adams, PLDI 2018), below. */
#include "_schubfach.h"
#include "_ryu_tables.h"

static inline uint32_t pow5bits(int32_t e) { return (uint32_t)(((e * 1217359) >> 19) + 1); } /* bitlength(5**e) */
static inline uint32_t log10pow2(int32_t e) { return (uint32_t)((e * 78913) >> 18); }          /* floor(e log10 2) */
static inline uint32_t log10pow5(int32_t e) { return (uint32_t)((e * 732923) >> 20); }         /* floor(e log10 5) */

/* Ryu's last step (float16): drop digits while the interval [vm, vp] holds a
 * shorter number, rounding vr by the last dropped digit (`last`: one already known); *removed counts them.
 * The trailing-zero flags say whether vm and vr are exact (then an exact tie rounds to even). */
static uint64_t ryu_shortest(uint64_t vr, uint64_t vp, uint64_t vm, int vm_trailing_zeros, int vr_trailing_zeros,
                             int accept_bounds, uint8_t last, int32_t *removed) {
    *removed = 0;
    if (vm_trailing_zeros || vr_trailing_zeros) { /* the general case, rare */
        while (vp / 10 > vm / 10) {
            vm_trailing_zeros &= vm % 10 == 0;
            vr_trailing_zeros &= last == 0;
            last = (uint8_t)(vr % 10);
            vr /= 10; vp /= 10; vm /= 10;
            ++*removed;
        }
        if (vm_trailing_zeros) {
            while (vm % 10 == 0) {
                vr_trailing_zeros &= last == 0;
                last = (uint8_t)(vr % 10);
                vr /= 10; vp /= 10; vm /= 10;
                ++*removed;
            }
        }
        if (vr_trailing_zeros && last == 5 && vr % 2 == 0) last = 4; /* an exact tie: round to even */
        return vr + ((vr == vm && (!accept_bounds || !vm_trailing_zeros)) || last >= 5);
    }
    /* The common case: drop as many digits as the interval [vm, vp] allows. Whether k digits can go is monotonic
     * in k, so big steps find the count one at a time would: most doubles lose two digits (one test, then the
     * last digit's), short decimals many (eight, four and two at a time). Only the most significant dropped
     * digit decides the rounding: vr is not exact here, so no dropped tail is exactly a half. */
    if (vp / 100 > vm / 100) {
        last = (uint8_t)(vr % 100 / 10);
        vr /= 100; vp /= 100; vm /= 100;
        *removed += 2;
        if (vp / 100 > vm / 100) { /* a short number */
            while (vp / 100000000 > vm / 100000000) {
                last = (uint8_t)(vr % 100000000 / 10000000);
                vr /= 100000000; vp /= 100000000; vm /= 100000000;
                *removed += 8;
            }
            if (vp / 10000 > vm / 10000) {
                last = (uint8_t)(vr % 10000 / 1000);
                vr /= 10000; vp /= 10000; vm /= 10000;
                *removed += 4;
            }
            if (vp / 100 > vm / 100) {
                last = (uint8_t)(vr % 100 / 10);
                vr /= 100; vp /= 100; vm /= 100;
                *removed += 2;
            }
        }
    }
    if (vp / 10 > vm / 10) {
        last = (uint8_t)(vr % 10);
        vr /= 10; vp /= 10; vm /= 10;
        ++*removed;
    }
    return vr + (vr == vm || last >= 5);
}

static const char DIGIT_PAIRS[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

static const uint64_t POW10_U64[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                       100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
                                       1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
                                       1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
                                       1000000000000000000ULL, 10000000000000000000ULL};

static inline int decimal_length(uint64_t v) { /* from the bit length: log10(2) ~ 1233 / 4096 */
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    return t + 1 - (v < POW10_U64[t]) + (v == 0);
}

/* The decimal digits of v written backwards so that they end just before `end`, two at a time (eight at a time
 * in 32-bit arithmetic while v has more than eight). */
static inline void put_digits_back(char *end, uint64_t v) {
    while (v >= 100000000) {
        uint32_t low = (uint32_t)(v % 100000000), a = low / 10000, b = low % 10000;
        v /= 100000000;
        end -= 8;
        memcpy(end, DIGIT_PAIRS + 2 * (a / 100), 2);
        memcpy(end + 2, DIGIT_PAIRS + 2 * (a % 100), 2);
        memcpy(end + 4, DIGIT_PAIRS + 2 * (b / 100), 2);
        memcpy(end + 6, DIGIT_PAIRS + 2 * (b % 100), 2);
    }
    uint32_t r = (uint32_t)v;
    while (r >= 100) {
        end -= 2;
        memcpy(end, DIGIT_PAIRS + 2 * (r % 100), 2);
        r /= 100;
    }
    if (r >= 10) memcpy(end - 2, DIGIT_PAIRS + 2 * r, 2);
    else end[-1] = (char)('0' + r);
}

/* The decimal digits of v at out; returns how many (at most 20). */
static int put_digits(char *out, uint64_t v) {
    int n = decimal_length(v);
    put_digits_back(out + n, v);
    return n;
}

/* The 8 decimal digits of v < 10**8 as BCD bytes in one word, the first digit in the lowest byte (SWAR: the
 * word holds two 4-digit lanes, split into 2-digit lanes, then into digits; each step a multiply and a shift
 * exact over its range, with no carry between lanes). */
static inline uint64_t bcd8(uint32_t v) {
    uint64_t abcd_efgh = (uint64_t)(v / 10000) | (uint64_t)(v % 10000) << 32;
    uint64_t ab_ef = (abcd_efgh * 10486 >> 20) & 0x0000007F0000007FULL; /* x / 100 for x < 10**4 */
    uint64_t ab_cd_ef_gh = ab_ef | (abcd_efgh - ab_ef * 100) << 16;
    uint64_t a_c_e_g = (ab_cd_ef_gh * 103 >> 10) & 0x000F000F000F000FULL; /* x / 10 for x < 100 */
    return a_c_e_g | (ab_cd_ef_gh - a_c_e_g * 10) << 8;
}

#define ASCII_ZEROS 0x3030303030303030ULL

/* The 16 decimal digits of hi * 10**8 + lo (hi, lo < 10**8) as ASCII in one 128-bit word, the first digit in
 * the lowest byte. With SSE2 both halves go at once: split by 10**4 (32-bit lanes), each 4-digit part spread
 * over four 16-bit lanes and divided there by 10**3, 10**2, 10 and 1 with fixed-point multiplies (the
 * quotients a, ab, abc, abcd), each digit its quotient less ten times the one before (W. Mula's method):
 * fewer instructions and a shorter dependency chain than two bcd8 calls, the same text (the float64 tests
 * compare the writer with orjson's). A float64 array's text takes 10-20% less time with it. */
static inline unsigned __int128 digits16(uint32_t hi, uint32_t lo) {
#if defined(__SSE2__)
    const __m128i x = _mm_set_epi64x(lo, hi);
    const __m128i q = _mm_srli_epi64(_mm_mul_epu32(x, _mm_set1_epi32((int)0xd1b71759)), 45); /* x / 10**4 */
    const __m128i r = _mm_sub_epi32(x, _mm_mul_epu32(q, _mm_set1_epi32(10000)));
    /* 16-bit lanes [hi / 10**4, hi % 10**4, lo / 10**4, lo % 10**4], times 4 (the multipliers' fixed point) */
    __m128i v = _mm_shuffle_epi32(_mm_or_si128(q, _mm_slli_epi32(r, 16)), _MM_SHUFFLE(3, 1, 2, 0));
    v = _mm_slli_epi16(v, 2);
    v = _mm_unpacklo_epi16(v, v);
    const __m128i div = _mm_set_epi16(-32768, 13108, 5243, 8389, -32768, 13108, 5243, 8389);
    const __m128i shift = _mm_set_epi16(-32768, 8192, 2048, 128, -32768, 8192, 2048, 128);
    const __m128i ten = _mm_set1_epi16(10);
    __m128i a = _mm_unpacklo_epi32(v, v), b = _mm_unpackhi_epi32(v, v); /* each part in four lanes */
    a = _mm_mulhi_epu16(_mm_mulhi_epu16(a, div), shift);                 /* [a, ab, abc, abcd, e, ef, ...] */
    b = _mm_mulhi_epu16(_mm_mulhi_epu16(b, div), shift);
    a = _mm_sub_epi16(a, _mm_slli_epi64(_mm_mullo_epi16(a, ten), 16));
    b = _mm_sub_epi16(b, _mm_slli_epi64(_mm_mullo_epi16(b, ten), 16));
    const __m128i digits = _mm_add_epi8(_mm_packus_epi16(a, b), _mm_set1_epi8('0'));
    /* out through two general registers (a store and a reload of its upper half stalls store forwarding) */
    uint64_t low = (uint64_t)_mm_cvtsi128_si64(digits);
    uint64_t high = (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(digits, 8));
    return (unsigned __int128)low | (unsigned __int128)high << 64;
#else
    return (unsigned __int128)(bcd8(hi) | ASCII_ZEROS) | (unsigned __int128)(bcd8(lo) | ASCII_ZEROS) << 64;
#endif
}

#define FORMAT_SLACK 48 /* bytes a caller of format_number and format_double makes room for (24 are written) */

/* JSON text of d * 10**K (0 < d < 10**17; "-" first when negative), spelled as orjson and repr() spell it:
 * positional from 1e-5 to below 1e16 (integral values keep a ".0"), else an exponent ("1e-6", "1e+16").
 * The digits are made in registers (the first one apart, the others as up to 16 bytes of one 128-bit word)
 * and written with whole-word stores only, never read back: `out` must have FORMAT_SLACK bytes of room. */
static int format_number(char *out, uint64_t d, int K, int negative) {
    typedef unsigned __int128 u128;
    char first;
    u128 rest; /* the digits after the first, in order from the lowest byte; 0 bytes after them */
    int len;
    if (d < 100000000) { /* up to 8 digits (short decimals, integers, float32s) */
        uint64_t bcd = bcd8((uint32_t)d);
        int lead = __builtin_ctzll(bcd) / 8;
        uint64_t x = (bcd | ASCII_ZEROS) >> (8 * lead);
        len = 8 - lead;
        first = (char)x;
        rest = (u128)(x >> 8);
    } else {
        uint64_t hi = d / 100000000, top = hi / 100000000;
        u128 both = digits16((uint32_t)(hi % 100000000), (uint32_t)(d % 100000000));
        if (top) {
            len = 17;
            first = (char)('0' + top);
            rest = both;
        } else {
            int lead = __builtin_ctzll((uint64_t)both & ~ASCII_ZEROS) / 8;
            both >>= 8 * lead;
            len = 16 - lead;
            first = (char)both;
            rest = both >> 8;
        }
    }
    int kk = len + K; /* 10**(kk-1) <= value < 10**kk */
    char *o = out;
    if (negative) *o++ = '-';
    o[0] = first;
    if (K >= 0 && kk <= 16) { /* 1234e7 -> 12340000000.0 */
        if (len < 17) {
            u128 zeros = (u128)ASCII_ZEROS << 64 | ASCII_ZEROS;
            rest |= zeros << (8 * (len - 1));
        }
        memcpy(o + 1, &rest, 16);
        o[kk] = '.';
        o[kk + 1] = '0';
        o += kk + 2;
    } else if (kk > 0 && kk <= 16) { /* 1234e-2 -> 12.34 */
        memcpy(o + 1, &rest, 16);
        o[kk] = '.';
        u128 fraction = rest >> (8 * (kk - 1));
        memcpy(o + kk + 1, &fraction, 16);
        o += len + 1;
    } else if (kk > -5 && kk <= 0) { /* 1234e-6 -> 0.001234 */
        memcpy(o, "0.000000", 8);
        o += 2 - kk;
        o[0] = first;
        memcpy(o + 1, &rest, 16);
        o += len;
    } else { /* 1234e30 -> 1.234e+33 */
        if (len > 1) {
            o[1] = '.';
            memcpy(o + 2, &rest, 16);
            o += len + 1;
        } else {
            o += 1;
        }
        *o++ = 'e';
        int e = kk - 1;
        *o++ = e < 0 ? '-' : '+';
        if (e < 0) e = -e;
        if (e >= 100) *o++ = (char)('0' + e / 100);
        if (e >= 10) *o++ = (char)('0' + e / 10 % 10);
        *o++ = (char)('0' + e % 10);
    }
    return (int)(o - out);
}

/* JSON text for a finite double: the shortest digits that read back to the same bits, spelled as orjson
 * and repr() spell them. */
static int format_double(double value, char *out) {
    if (value == 0.0) {
        if (signbit(value)) { memcpy(out, "-0.0", 4); return 4; }
        memcpy(out, "0.0", 3);
        return 3;
    }
    int32_t e;
    uint64_t d = schubfach_digits(fabs(value), &e);
    return format_number(out, d, e, value < 0);
}

/* ---- float16: its own shortest digits (Ryu's f2s, at float16's width) -------------------------------- */

static inline uint32_t mul_shift32(uint32_t m, uint64_t factor, int32_t shift) { /* (m * factor) >> shift */
    uint64_t low = (uint64_t)m * (uint32_t)factor, high = (uint64_t)m * (factor >> 32);
    return (uint32_t)(((low >> 32) + high) >> (shift - 32));
}

static inline int multiple_of_pow5_32(uint32_t v, uint32_t p) {
    uint32_t count = 0;
    while (v % 5 == 0 && count < p) { v /= 5; count++; }
    return count >= p;
}

/* The shortest digits of a positive finite binary float of mantissa_bits (23: float32, 10: float16) and
 * exponent bias, as an integer; *exp10 their power of ten. */
static uint32_t ryu_digits_small(uint32_t mantissa, uint32_t exponent, int mantissa_bits, int bias, int32_t *exp10) {
    int32_t e2;
    uint32_t m2;
    if (exponent == 0) { e2 = 1 - bias - mantissa_bits - 2; m2 = mantissa; }
    else { e2 = (int32_t)exponent - bias - mantissa_bits - 2; m2 = (1U << mantissa_bits) | mantissa; }
    int accept_bounds = (m2 & 1) == 0;
    uint32_t mv = 4 * m2, mp = 4 * m2 + 2, mm_shift = mantissa != 0 || exponent <= 1, mm = 4 * m2 - 1 - mm_shift;
    uint32_t vr, vp, vm;
    int32_t e10;
    int vm_trailing_zeros = 0, vr_trailing_zeros = 0;
    uint8_t last = 0;
    if (e2 >= 0) {
        uint32_t q = log10pow2(e2);
        e10 = (int32_t)q;
        int32_t k = 59 + (int32_t)pow5bits((int32_t)q) - 1, i = -e2 + (int32_t)q + k;
        vr = mul_shift32(mv, RYU_F32_POW5_INV[q], i);
        vp = mul_shift32(mp, RYU_F32_POW5_INV[q], i);
        vm = mul_shift32(mm, RYU_F32_POW5_INV[q], i);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) { /* no digit is removed below: compute the last removed one */
            int32_t l = 59 + (int32_t)pow5bits((int32_t)q - 1) - 1;
            last = (uint8_t)(mul_shift32(mv, RYU_F32_POW5_INV[q - 1], -e2 + (int32_t)q - 1 + l) % 10);
        }
        if (q <= 9) {
            if (mv % 5 == 0) vr_trailing_zeros = multiple_of_pow5_32(mv, q);
            else if (accept_bounds) vm_trailing_zeros = multiple_of_pow5_32(mm, q);
            else vp -= multiple_of_pow5_32(mp, q);
        }
    } else {
        uint32_t q = log10pow5(-e2);
        e10 = (int32_t)q + e2;
        int32_t i = -e2 - (int32_t)q, k = (int32_t)pow5bits(i) - 61, j = (int32_t)q - k;
        vr = mul_shift32(mv, RYU_F32_POW5[i], j);
        vp = mul_shift32(mp, RYU_F32_POW5[i], j);
        vm = mul_shift32(mm, RYU_F32_POW5[i], j);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) {
            j = (int32_t)q - 1 - ((int32_t)pow5bits(i + 1) - 61);
            last = (uint8_t)(mul_shift32(mv, RYU_F32_POW5[i + 1], j) % 10);
        }
        if (q <= 1) {
            vr_trailing_zeros = 1;
            if (accept_bounds) vm_trailing_zeros = mm_shift == 1;
            else --vp;
        } else if (q < 31) {
            vr_trailing_zeros = (mv & ((1U << (q - 1)) - 1)) == 0;
        }
    }
    int32_t removed;
    uint32_t output = (uint32_t)ryu_shortest(vr, vp, vm, vm_trailing_zeros, vr_trailing_zeros, accept_bounds, last, &removed);
    *exp10 = e10 + removed;
    return output;
}

/* The bits of a float16 that double v holds exactly (NumPy's float16 scalars convert exactly); -1 if not. */
static int32_t half_bits(double v) {
    int sign = signbit(v) ? 0x8000 : 0, e;
    double m = frexp(fabs(v), &e); /* |v| = m * 2**e, 0.5 <= m < 1 */
    if (v == 0.0) return sign;
    if (!isfinite(v) || e > 16) return -1;
    if (e >= -13) { /* normal: 1.f * 2**(e-1) */
        double f = ldexp(m, 11); /* 11 significant bits */
        if (f != floor(f)) return -1;
        return sign | (e - 1 + 15) << 10 | ((int32_t)f - 1024);
    }
    double f = ldexp(fabs(v), 24); /* subnormal: f * 2**-24 */
    if (f != floor(f) || f >= 1024) return -1;
    return sign | (int32_t)f;
}

/* The bits of the float16 nearest to a positive finite double (ties to even), as a reader gets them. */
static int32_t half_round(double d) {
    if (d >= 65520.0) return 0x7C00; /* infinity */
    int e;
    double m = frexp(d, &e);
    if (e >= -13) { /* normal: 11 significant bits */
        double r = nearbyint(ldexp(m, 11));
        if (r == 2048.0) { r = 1024.0; e++; }
        return (e - 1 + 15) << 10 | ((int32_t)r - 1024);
    }
    return (int32_t)nearbyint(ldexp(d, 24)); /* subnormal (1024: the smallest normal, same bits) */
}

/* The value of float16 bits (finite), then the double written for it. */
static double half_value(uint16_t bits) {
    int e = bits >> 10 & 0x1F;
    double m = bits & 0x3FF, v = e ? ldexp(m + 1024, e - 25) : ldexp(m, -24);
    return f16_json_double(bits & 0x8000 ? -v : v);
}

/* The double datason writes for a float16 (handlers.numpy._exact_short): its shortest digits read as a double
 * (every float16 comes back from those); NaN when v is not a finite float16. */
static double f16_json_double(double v) {
    int32_t bits = half_bits(v), e;
    if (bits < 0 || (bits & 0x7C00) == 0x7C00) return NAN;
    if ((bits & 0x7FFF) == 0) return v;
    uint32_t m = ryu_digits_small((uint32_t)bits & 0x3FF, (uint32_t)bits >> 10 & 0x1F, 10, 15, &e);
    double d = decimal_double(m, e);
    if (half_round(d) != (bits & 0x7FFF)) d = fabs(v); /* never seen on any float16; as _exact_short does */
    return signbit(v) ? -d : d;
}

/* A positive finite float32's shortest digits (*m * 10**K, as orjson writes them); *m is 0 when reading them as a
 * double and rounding that to float32 would not give `a` back (7.038531e-26), then the exact value is written.
 * Only an odd significand can be lost that way: the double lands on a midpoint, whose tie goes to the even one. */
static void f32_shortest(float a, uint32_t *m, int *K) {
    int32_t e;
    uint32_t bits;
    *m = schubfach_digits32(a, &e);
    *K = e;
    memcpy(&bits, &a, 4);
    if ((bits & 1) && (float)decimal_double(*m, e) != a) *m = 0;
}

/* The double datason writes for a float32 (handlers.numpy._exact_short). */
static double f32_json_double(float x) {
    if (x == 0.0f || !isfinite(x)) return (double)x;
    uint32_t m;
    int K;
    f32_shortest(fabsf(x), &m, &K);
    double d = m ? decimal_double(m, K) : (double)fabsf(x);
    return signbit(x) ? -d : d;
}

/* JSON text of a float32 as datason writes it (the number f32_json_double gives), in one digit generation. */
static int format_float32(float x, char *out) {
    if (x == 0.0f || !isfinite(x)) return format_double((double)x, out);
    uint32_t m;
    int K;
    f32_shortest(fabsf(x), &m, &K);
    if (m == 0) return format_double((double)x, out); /* the rare float32 its digits do not bring back */
    return format_number(out, m, K, x < 0);
}

/* ---- writer: values -> JSON bytes in one pass (typed or plain), no intermediate tree ------------ */
/* Same output values as encode + orjson: the Python walker's tree is written for anything C leaves
 * to it. Compact separators; sort_keys sorts dict keys; indent and ensure_ascii take the tree path. */

typedef struct {
    Walker *w;
    char *buf;
    Py_ssize_t len, cap;
    int sort_keys;
} Writer;

static int grow(Writer *o, Py_ssize_t extra) {
    if (o->len + extra <= o->cap) return 0;
    Py_ssize_t cap = o->cap * 2 > o->len + extra ? o->cap * 2 : o->len + extra + 4096;
    char *buf = PyMem_Realloc(o->buf, cap);
    if (buf == NULL) { PyErr_NoMemory(); return -1; }
    o->buf = buf;
    o->cap = cap;
    return 0;
}

static inline int put(Writer *o, const char *s, Py_ssize_t n) {
    if (grow(o, n) < 0) return -1;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

static inline int putc1(Writer *o, char c) {
    if (o->len >= o->cap && grow(o, 1) < 0) return -1;
    o->buf[o->len++] = c;
    return 0;
}

static unsigned char needs_escape[256]; /* '"', '\\' and control characters */

/* Whether any of 8 bytes is '"', '\\' or a control character (SWAR; exact for the "any"). */
static inline int special8(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs ? 1 : 0;
}

/* How many leading bytes of p[0..n) need no escape: sixteen at a time with SSE2 (every x86-64 has it), eight
 * at a time elsewhere (special8); a tail shorter than the step is checked by one load overlapping bytes
 * already found clean (so the first special byte of that window is the first of the string), the bytes of
 * a window that holds one are then walked one by one. */
#if defined(__SSE2__)
static inline int special16(const unsigned char *p) { /* bit i set: p[i] needs an escape */
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i flip = _mm_set1_epi8((char)0x80), control = _mm_set1_epi8((char)(0x20 ^ 0x80));
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                               _mm_cmplt_epi8(_mm_xor_si128(x, flip), control)); /* x < 0x20, unsigned */
    return _mm_movemask_epi8(bad);
}
#endif

static inline Py_ssize_t plain_prefix(const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        int mask = special16(p + i);
        if (mask) return i + __builtin_ctz((unsigned)mask);
    }
    if (i == n) return n;
    if (n >= 16) {
        int mask = special16(p + n - 16);
        return mask ? n - 16 + __builtin_ctz((unsigned)mask) : n;
    }
#endif
    uint64_t x;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        if (special8(x)) goto bytes;
    }
    if (i == n) return n;
    if (n >= 8) {
        memcpy(&x, p + n - 8, 8);
        if (!special8(x)) return n;
    } else if (n >= 4) { /* i is 0: two four-byte loads cover the string */
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        if (!special8((uint64_t)lo | (uint64_t)hi << 32)) return n;
    }
bytes:
    while (i < n && !needs_escape[p[i]]) i++;
    return i;
}

/* An ASCII string of at most 16 bytes (keys, labels) in loads and stores of fixed width, overlapping when n is
 * not a multiple of the width: 1 written, 0 when a byte needs an escape (nothing written), -1 on error. */
static inline int write_short_ascii(Writer *o, const unsigned char *p, Py_ssize_t n) {
    if (grow(o, 18) < 0) return -1;
    char *out = o->buf + o->len + 1;
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
        if (special8(a) | special8(b)) return 0;
        memcpy(out, &a, 8);
        memcpy(out + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        if (special8((uint64_t)a | (uint64_t)b << 32)) return 0;
        memcpy(out, &a, 4);
        memcpy(out + n - 4, &b, 4);
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (needs_escape[p[i]]) return 0;
            out[i] = (char)p[i];
        }
    }
    out[-1] = out[n] = '"';
    o->len += n + 2;
    return 1;
}

static int write_string(Writer *o, PyObject *s) {
    Py_ssize_t n;
    const unsigned char *p;
    if (PyUnicode_IS_COMPACT_ASCII(s)) {
        p = PyUnicode_1BYTE_DATA(s);
        n = PyUnicode_GET_LENGTH(s);
        if (n <= 16) {
            int r = write_short_ascii(o, p, n);
            if (r != 0) return r < 0 ? -1 : 0;
        }
    } else {
        p = (const unsigned char *)PyUnicode_AsUTF8AndSize(s, &n);
    }
    if (p == NULL) {
        PyErr_Clear();
        PyObject *exc = PyObject_CallFunction(SerializationError, "s", "string is not valid Unicode (lone surrogate)");
        if (exc != NULL) { PyErr_SetObject((PyObject *)Py_TYPE(exc), exc); Py_DECREF(exc); }
        return -1;
    }
    if (grow(o, n + 2) < 0) return -1;
    Py_ssize_t i = plain_prefix(p, n);
    if (i == n) {
        char *out = o->buf + o->len;
        out[0] = '"';
        memcpy(out + 1, p, n);
        out[n + 1] = '"';
        o->len += n + 2;
        return 0;
    }
    /* Runs that need no escape are copied whole (found sixteen bytes at a time), each escape written in place. */
    static const char hex[] = "0123456789abcdef";
    o->buf[o->len++] = '"';
    Py_ssize_t start = 0;
    while (1) {
        if (grow(o, i - start + 7) < 0) return -1; /* the run, an escape (at most 6) and the closing quote */
        char *out = o->buf + o->len;
        memcpy(out, p + start, i - start);
        out += i - start;
        if (i == n) {
            *out++ = '"';
            o->len = out - o->buf;
            return 0;
        }
        unsigned char c = p[i];
        char short_form = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't'
                        : c == '\b' ? 'b' : c == '\f' ? 'f' : 0;
        out[0] = '\\';
        if (short_form) {
            out[1] = short_form;
            out += 2;
        } else { /* another control character: \u00XX, lower-case as orjson and json write it */
            memcpy(out + 1, "u00", 3);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
        }
        o->len = out - o->buf;
        start = i + 1;
        i = start + plain_prefix(p + start, n - start);
    }
}

/* Digits of an int64 / uint64, without snprintf. */
static int put_u64(Writer *o, unsigned long long v, int negative) {
    if (grow(o, 24) < 0) return -1;
    if (negative) o->buf[o->len++] = '-';
    if (v < 100) { /* counts, labels, class ids: one or two digits without the SWAR below */
        if (v < 10) o->buf[o->len++] = (char)('0' + v);
        else { memcpy(o->buf + o->len, DIGIT_PAIRS + 2 * v, 2); o->len += 2; }
        return 0;
    }
    if (v < 100000000) { /* up to 8 digits: made in a register (bcd8), one store */
        uint64_t bcd = bcd8((uint32_t)v);
        int lead = v ? __builtin_ctzll(bcd) / 8 : 7;
        uint64_t x = (bcd | ASCII_ZEROS) >> (8 * lead);
        memcpy(o->buf + o->len, &x, 8);
        o->len += 8 - lead;
        return 0;
    }
    o->len += put_digits(o->buf + o->len, v);
    return 0;
}

static int write_int(Writer *o, PyObject *v) {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0) {
        if (x == -1 && PyErr_Occurred()) return -1;
        return put_u64(o, x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x, x < 0);
    }
    if (overflow > 0) { /* up to 2**64 - 1 */
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred())) return put_u64(o, u, 0);
        PyErr_Clear();
    }
    PyObject *text = PyObject_Str(v); /* a big int in plain mode (the caller checked its size) */
    if (text == NULL) return -1;
    Py_ssize_t len;
    const char *t = PyUnicode_AsUTF8AndSize(text, &len);
    int r = t == NULL ? -1 : put(o, t, len);
    Py_DECREF(text);
    return r;
}

static int write_float(Writer *o, double v) {
    if (grow(o, FORMAT_SLACK) < 0) return -1;
    o->len += format_double(v, o->buf + o->len);
    return 0;
}

/* A JSON-safe tree (what the Python walker returns): written as it is. */
static int write_json(Writer *o, PyObject *obj) {
    PyTypeObject *t = Py_TYPE(obj);
    int r = 0;
    if (t == &PyUnicode_Type) return write_string(o, obj);
    if (obj == Py_None) return put(o, "null", 4);
    if (obj == Py_True) return put(o, "true", 4);
    if (obj == Py_False) return put(o, "false", 5);
    if (t == &PyLong_Type) return write_int(o, obj);
    if (t == &PyFloat_Type) return write_float(o, PyFloat_AS_DOUBLE(obj));
    if ((PyObject *)t == RAW_JSON_TYPE) { /* a handler's pre-encoded JSON (RawJSON.data) */
        PyObject *data = PyObject_GetAttr(obj, STR_DATA);
        if (data == NULL) return -1;
        r = PyBytes_Check(data) ? put(o, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)) : -1;
        if (r < 0 && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "RawJSON.data must be bytes");
        Py_DECREF(data);
        return r;
    }
    if (Py_EnterRecursiveCall(" while writing JSON")) return -1;
    if (t == &PyList_Type) {
        r = putc1(o, '[');
        for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(obj); i++) {
            if (i) r = putc1(o, ',');
            if (r == 0) r = write_json(o, PyList_GET_ITEM(obj, i));
        }
        if (r == 0) r = putc1(o, ']');
    } else if (t == &PyDict_Type) {
        PyObject *items = PyDict_Items(obj);
        if (items == NULL || (o->sort_keys && PyList_Sort(items) < 0)) r = -1;
        if (r == 0) r = putc1(o, '{');
        for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(items); i++) {
            PyObject *kv = PyList_GET_ITEM(items, i);
            if (i) r = putc1(o, ',');
            if (r == 0) r = write_string(o, PyTuple_GET_ITEM(kv, 0));
            if (r == 0) r = putc1(o, ':');
            if (r == 0) r = write_json(o, PyTuple_GET_ITEM(kv, 1));
        }
        if (r == 0) r = putc1(o, '}');
        Py_XDECREF(items);
    } else {
        PyErr_SetString(PyExc_TypeError, "the encoder returned a value that is not JSON");
        r = -1;
    }
    Py_LeaveRecursiveCall();
    return r;
}

/* Hand obj to the Python walker and write the tree it returns. */
static COLD_PATH int write_slow(Writer *o, PyObject *obj, Py_ssize_t depth) {
    PyObject *tree = call_slow(o->w, obj, depth);
    if (tree == NULL) return -1;
    int r = write_json(o, tree);
    Py_DECREF(tree);
    return r;
}

static int write_value(Writer *o, PyObject *obj, Py_ssize_t depth);

static COLD_PATH int write_list(Writer *o, PyObject *obj, Py_ssize_t depth) {
    Walker *w = o->w;
    if (depth > w->max_depth || PyList_GET_SIZE(obj) > w->max_size) return write_slow(o, obj, depth);
    if (putc1(o, '[') < 0) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(obj); i++) {
        if (i && putc1(o, ',') < 0) return -1;
        PyObject *item = PyList_GET_ITEM(obj, i);
        Py_INCREF(item);
        int r = write_value(o, item, depth + 1);
        Py_DECREF(item);
        if (r < 0) { add_index(i); return -1; }
    }
    return putc1(o, ']');
}

/* Key order for sort_keys: code points, as sorted() orders str (bytes compare for 1-byte strings). */
static inline int key_less(PyObject *a, PyObject *b) {
    if (PyUnicode_KIND(a) == PyUnicode_1BYTE_KIND && PyUnicode_KIND(b) == PyUnicode_1BYTE_KIND) {
        Py_ssize_t na = PyUnicode_GET_LENGTH(a), nb = PyUnicode_GET_LENGTH(b);
        int c = memcmp(PyUnicode_1BYTE_DATA(a), PyUnicode_1BYTE_DATA(b), na < nb ? na : nb);
        return c < 0 || (c == 0 && na < nb);
    }
    return PyUnicode_Compare(a, b) < 0;
}

static inline int is_marker(PyObject *key) {
    if (key == TYPE_KEY || key == VALUE_KEY) return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    return (n == PyUnicode_GET_LENGTH(TYPE_KEY) && PyUnicode_Compare(key, TYPE_KEY) == 0) ||
           (n == PyUnicode_GET_LENGTH(VALUE_KEY) && PyUnicode_Compare(key, VALUE_KEY) == 0);
}

#define SMALL_DICT 32

static COLD_PATH int write_dict(Writer *o, PyObject *obj, Py_ssize_t depth) {
    Walker *w = o->w;
    Py_ssize_t pos = 0, n = PyDict_GET_SIZE(obj), i = 0;
    PyObject *key, *item, *small[2 * SMALL_DICT], **kv = small;
    int r = 0;
    if (depth > w->max_depth || n > w->max_size) return write_slow(o, obj, depth);
    if (n > SMALL_DICT) {
        kv = PyMem_Malloc(sizeof(PyObject *) * 2 * n);
        if (kv == NULL) { PyErr_NoMemory(); return -1; }
    }
    /* Strong references to every pair (the dict may change while Python writes a value); any unusual key
     * sends the whole dict to Python. */
    while (i < n && PyDict_Next(obj, &pos, &key, &item)) {
        if (!PyUnicode_CheckExact(key) || !text_ok(key, w->max_str) || is_marker(key)) {
            for (Py_ssize_t j = 0; j < 2 * i; j++) Py_DECREF(kv[j]);
            if (kv != small) PyMem_Free(kv);
            return write_slow(o, obj, depth);
        }
        kv[2 * i] = Py_NewRef(key);
        kv[2 * i + 1] = Py_NewRef(item);
        i++;
    }
    n = i;
    if (o->sort_keys) { /* insertion sort: dicts are small, and often already in order */
        for (i = 1; i < n; i++) {
            PyObject *k = kv[2 * i], *v = kv[2 * i + 1];
            Py_ssize_t j = i;
            while (j > 0 && key_less(k, kv[2 * (j - 1)])) {
                kv[2 * j] = kv[2 * (j - 1)];
                kv[2 * j + 1] = kv[2 * j - 1];
                j--;
            }
            kv[2 * j] = k;
            kv[2 * j + 1] = v;
        }
    }
    r = putc1(o, '{');
    for (i = 0; r == 0 && i < n; i++) {
        if (i) r = putc1(o, ',');
        if (r == 0) r = write_string(o, kv[2 * i]) < 0 || putc1(o, ':') < 0 ? -1 : 0;
        if (r == 0 && write_value(o, kv[2 * i + 1], depth + 1) < 0) {
            add_key(kv[2 * i]);
            r = -1;
        }
    }
    if (r == 0) r = putc1(o, '}');
    for (i = 0; i < 2 * n; i++) Py_DECREF(kv[i]);
    if (kv != small) PyMem_Free(kv);
    return r;
}

/* '{"<TYPE_KEY>":"<tag>","<VALUE_KEY>":' : the start of an envelope whose payload follows. */
static int write_envelope_head(Writer *o, PyObject *tag) {
    if (put(o, ENVELOPE_HEAD, ENVELOPE_HEAD_LEN) < 0 || write_string(o, tag) < 0) return -1;
    return put(o, ENVELOPE_MID, ENVELOPE_MID_LEN);
}

/* One row of floats (float32 when f32, else float64) at *data as "[v,v,...]": room made once for the row, then
 * each number written in place (the writer's length is only updated at the end). */
static int write_float_row(Writer *o, const char **data, Py_ssize_t n, int f32) {
    if (grow(o, n * 26 + FORMAT_SLACK + 2) < 0) return -1;
    char *p = o->buf + o->len;
    const char *d = *data;
    *p++ = '[';
    if (f32) {
        for (Py_ssize_t i = 0; i < n; i++) { float v; memcpy(&v, d + 4 * i, 4); p += format_float32(v, p); *p++ = ','; }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) { double v; memcpy(&v, d + 8 * i, 8); p += format_double(v, p); *p++ = ','; }
    }
    if (n) p--;
    *p++ = ']';
    o->len = p - o->buf;
    *data += n * (f32 ? 4 : 8);
    return 0;
}

/* Items of a native C-order array buffer, nested per shape. */
static int write_items(Writer *o, const char **data, char code, const Py_ssize_t *shape, int ndim) {
    if (ndim == 1 && (code == 'f' || code == 'd')) return write_float_row(o, data, shape[0], code == 'f');
    if (putc1(o, '[') < 0) return -1;
    for (Py_ssize_t i = 0; i < shape[0]; i++) {
        int r = 0;
        if (i && putc1(o, ',') < 0) return -1;
        if (ndim > 1) { r = write_items(o, data, code, shape + 1, ndim - 1); if (r < 0) return -1; continue; }
        const char *p = *data;
        switch (code) {
            case '?': r = *(const unsigned char *)p ? put(o, "true", 4) : put(o, "false", 5); *data += 1; break;
            case 'b': r = put_u64(o, (unsigned long long)(*(const int8_t *)p < 0 ? -(long long)*(const int8_t *)p : *(const int8_t *)p), *(const int8_t *)p < 0); *data += 1; break;
            case 'B': r = put_u64(o, *(const uint8_t *)p, 0); *data += 1; break;
            case 'h': { int16_t v; memcpy(&v, p, 2); r = put_u64(o, v < 0 ? -(long long)v : v, v < 0); *data += 2; break; }
            case 'H': { uint16_t v; memcpy(&v, p, 2); r = put_u64(o, v, 0); *data += 2; break; }
            case 'i': { int32_t v; memcpy(&v, p, 4); r = put_u64(o, v < 0 ? -(long long)v : v, v < 0); *data += 4; break; }
            case 'I': { uint32_t v; memcpy(&v, p, 4); r = put_u64(o, v, 0); *data += 4; break; }
            case 'l': case 'q': { int64_t v; memcpy(&v, p, 8); r = put_u64(o, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, v < 0); *data += 8; break; }
            case 'L': case 'Q': { uint64_t v; memcpy(&v, p, 8); r = put_u64(o, v, 0); *data += 8; break; }
            case 'f': { float v; memcpy(&v, p, 4); if ((r = grow(o, FORMAT_SLACK)) == 0) o->len += format_float32(v, o->buf + o->len); *data += 4; break; }
            case 'd': { double v; memcpy(&v, p, 8); r = write_float(o, v); *data += 8; break; }
            case 'e': { uint16_t v; memcpy(&v, p, 2); r = write_float(o, half_value(v)); *data += 2; break; }
        }
        if (r < 0) return -1;
    }
    return putc1(o, ']');
}

/* An unregistered dataclass or attrs instance as the object of its fields, without building the dict:
 * 1 written, 0 Python writes it, -1 error. names: (field order, sorted). */
static COLD_PATH int write_fields(Writer *o, PyObject *obj, PyObject *names, Py_ssize_t depth) {
    Walker *w = o->w;
    if (!PyTuple_Check(names) || PyTuple_GET_SIZE(names) != 2) return 0;
    names = PyTuple_GET_ITEM(names, o->sort_keys ? 1 : 0);
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (depth > w->max_depth || n > w->max_size) return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(names, i)) > w->max_str) return 0;
    if (putc1(o, '{') < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i), *value = PyObject_GetAttr(obj, name);
        if (value == NULL) return -1; /* as dataclass_fields(obj) would raise */
        int r = (i && putc1(o, ',') < 0) || write_string(o, name) < 0 || putc1(o, ':') < 0 ? -1 : 0;
        if (r == 0 && write_value(o, value, depth + 1) < 0) {
            add_key(name);
            r = -1;
        }
        Py_DECREF(value);
        if (r < 0) return -1;
    }
    return putc1(o, '}') < 0 ? -1 : 1;
}

/* A registered leaf written without a tree (fast_leaf's output, same checks): 1 written, 0 Python writes
 * it, -1 error. Typed values get their envelope: the text, number or payload object after its head. */
static int write_leaf(Writer *o, PyObject *obj, int kind, int layout, PyObject *tag, Py_ssize_t depth) {
    Walker *w = o->w;
    if (w->max_str < 64 || (w->typed && !envelope_fits(w, depth))) return 0;
    if (kind >= K_NP_BOOL && kind <= K_NP_FLOAT16) {
        NpNumber n;
        if (!np_number(obj, kind, layout, &n)) return 0;
        int r = w->typed ? write_envelope_head(o, tag) : 0;
        if (r == 0) {
            if (kind == K_NP_BOOL) r = n.b ? put(o, "true", 4) : put(o, "false", 5);
            else if (kind == K_NP_INT) r = n.integer ? write_int(o, n.integer) : put_u64(o, n.magnitude, n.negative);
            else if ((r = grow(o, FORMAT_SLACK)) == 0)
                o->len += kind == K_NP_FLOAT32 ? format_float32((float)n.v, o->buf + o->len)
                                               : format_double(np_json_double(n.v, kind), o->buf + o->len);
        }
        Py_XDECREF(n.integer);
        if (r == 0 && w->typed) r = putc1(o, '}');
        return r < 0 ? -1 : 1;
    }
    if (kind == K_NP_COMPLEX64 || kind == K_NP_COMPLEX128) { /* a small object: its tree */
        PyObject *tree = fast_leaf(w, obj, kind, layout, tag, depth);
        if (tree == NULL) return PyErr_Occurred() ? -1 : 0;
        int r = write_json(o, tree);
        Py_DECREF(tree);
        return r < 0 ? -1 : 1;
    }
    if (kind == K_TIMEDELTA && w->typed) { /* {"days", "seconds", "microseconds"} (sorted: days, microseconds, seconds) */
        if (!payload_fits(w, depth, 3)) return 0;
        long parts[3] = {PyDateTime_DELTA_GET_DAYS(obj), PyDateTime_DELTA_GET_SECONDS(obj),
                         PyDateTime_DELTA_GET_MICROSECONDS(obj)};
        static const char *const names[3] = {"{\"days\":", ",\"seconds\":", ",\"microseconds\":"};
        static const char *const sorted_names[3] = {"{\"days\":", ",\"microseconds\":", ",\"seconds\":"};
        static const int sorted_parts[3] = {0, 2, 1};
        if (write_envelope_head(o, tag) < 0) return -1;
        for (int i = 0; i < 3; i++) {
            const char *name = o->sort_keys ? sorted_names[i] : names[i];
            long part = parts[o->sort_keys ? sorted_parts[i] : i];
            if (put(o, name, (Py_ssize_t)strlen(name)) < 0 || put_u64(o, (unsigned long long)(part < 0 ? -part : part), part < 0) < 0)
                return -1;
        }
        return put(o, "}}", 2) < 0 ? -1 : 1;
    }
    PyObject *form;
    int fold;
    PyObject *text = leaf_text(w, obj, kind, &form, &fold);
    if (text == NULL) return PyErr_Occurred() ? -1 : 0;
    int r;
    if (!w->typed) {
        r = write_string(o, text);
    } else if (form == Py_None && !fold) {
        r = write_envelope_head(o, tag) < 0 || write_string(o, text) < 0 ? -1 : putc1(o, '}');
    } else if (!payload_fits(w, depth, 1 + (form != Py_None) + fold)) {
        Py_DECREF(text);
        return 0;
    } else { /* {"iso", "tz"?, "fold"?}; sorted: fold, iso, tz */
        r = write_envelope_head(o, tag);
        if (r == 0 && fold && o->sort_keys) r = put(o, "{\"fold\":1,\"iso\":", 16);
        else if (r == 0) r = put(o, "{\"iso\":", 7);
        if (r == 0) r = write_string(o, text);
        if (r == 0 && form != Py_None) r = put(o, ",\"tz\":", 6) < 0 || write_string(o, form) < 0 ? -1 : 0;
        if (r == 0 && fold && !o->sort_keys) r = put(o, ",\"fold\":1", 9);
        if (r == 0) r = put(o, "}}", 2);
    }
    Py_DECREF(text);
    return r < 0 ? -1 : 1;
}

/* A registered ndarray written straight from its buffer: 1 written, 0 Python writes it, -1 error.
 * Only bool, int and float32/64 arrays of at least one dimension, native and C-ordered, all finite;
 * typed mode only when the readable form applies (array_format, compact_threshold). */
static COLD_PATH int write_array(Writer *o, PyObject *obj, PyObject *tag, Py_ssize_t depth) {
    Walker *w = o->w;
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) { PyErr_Clear(); return 0; }
    const char *f = view.format;
    char code = f != NULL && f[0] && !f[1] ? f[0] : 0;
    static const char codes[] = "?bBhHiIlLqQfde";
    static const int sizes[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 8, 8, 4, 8, 2};
    const char *at = code ? strchr(codes, code) : NULL;
    Py_ssize_t count = view.itemsize ? view.len / view.itemsize : 0;
    /* Large float64 arrays: orjson's vectorised writer (through Python) is faster than one float at a time. */
    int ok = at != NULL && view.itemsize == sizes[at - codes] && view.ndim >= 1 && count <= w->max_size &&
             !(code == 'd' && count > 256);
    for (int i = 0; ok && i < view.ndim; i++) ok = view.shape[i] <= w->max_size;
    if (ok && w->typed) ok = (w->arrays == 2 || (w->arrays == 1 && count <= w->compact_above)) &&
                             payload_fits(w, depth, 3) && depth + 1 + view.ndim <= w->max_depth &&
                             view.ndim <= w->max_size && w->max_str >= 16;
    else if (ok) ok = depth + view.ndim - 1 <= w->max_depth;
    if (ok && (code == 'f' || code == 'd' || code == 'e')) { /* NaN and infinity: Python writes them per nan_handling */
        for (Py_ssize_t i = 0; ok && i < count; i++) {
            if (code == 'f') { float v; memcpy(&v, (char *)view.buf + 4 * i, 4); ok = isfinite(v); }
            else if (code == 'd') { double v; memcpy(&v, (char *)view.buf + 8 * i, 8); ok = isfinite(v); }
            else { uint16_t v; memcpy(&v, (char *)view.buf + 2 * i, 2); ok = (v & 0x7C00) != 0x7C00; }
        }
    }
    if (!ok) { PyBuffer_Release(&view); return 0; }
    const char *data = view.buf;
    int r = 0;
    if (w->typed) {
        /* the dtype string of each buffer code in `codes` (l, L, q, Q: the 8-byte ints of Linux and Windows) */
        static const char *const dtypes[] = {"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8",
                                             "<i8", "<u8", "<f4", "<f8", "<f2"};
        char dtype[8];
        strcpy(dtype, dtypes[at - codes]);
#if PY_BIG_ENDIAN
        if (dtype[0] == '<') dtype[0] = '>';
#endif
        r = write_envelope_head(o, tag);
        if (r == 0 && o->sort_keys) r = put(o, "{\"data\":", 8);
        else if (r == 0) r = put(o, "{\"dtype\":\"", 10) < 0 || put(o, dtype, 3) < 0 || put(o, "\",\"shape\":[", 11) < 0 ? -1 : 0;
        if (r == 0 && o->sort_keys) {
            r = write_items(o, &data, code, view.shape, view.ndim);
            if (r == 0) r = put(o, ",\"dtype\":\"", 10) < 0 || put(o, dtype, 3) < 0 || put(o, "\",\"shape\":[", 11) < 0 ? -1 : 0;
        }
        for (int i = 0; r == 0 && i < view.ndim; i++) {
            if (i) r = putc1(o, ',');
            if (r == 0) r = put_u64(o, (unsigned long long)view.shape[i], 0);
        }
        if (r == 0) r = putc1(o, ']');
        if (r == 0 && !o->sort_keys) r = put(o, ",\"data\":", 8) < 0 || write_items(o, &data, code, view.shape, view.ndim) < 0 ? -1 : 0;
        if (r == 0) r = put(o, "}}", 2);
    } else {
        r = write_items(o, &data, code, view.shape, view.ndim);
    }
    PyBuffer_Release(&view);
    return r < 0 ? -1 : 1;
}

static int write_value(Writer *o, PyObject *obj, Py_ssize_t depth) {
    PyTypeObject *t = Py_TYPE(obj);
    Walker *w = o->w;
    int r;
    if (t == &PyUnicode_Type) {
        if (!text_ok(obj, w->max_str)) return write_slow(o, obj, depth);
        return write_string(o, obj);
    }
    if (t == &PyFloat_Type) {
        double v = PyFloat_AS_DOUBLE(obj);
        return v - v == 0.0 ? write_float(o, v) : write_slow(o, obj, depth);
    }
    if (t == &PyLong_Type) {
        long long x;
        if (compact_int(obj, &x)) return put_u64(o, x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x, x < 0);
        int ok = int_in_range(obj);
        if (ok < 0) return -1;
        return ok ? write_int(o, obj) : write_slow(o, obj, depth);
    }
    if (obj == Py_None) return put(o, "null", 4);
    if (obj == Py_True) return put(o, "true", 4);
    if (obj == Py_False) return put(o, "false", 5);
    if (t == &PyList_Type || t == &PyDict_Type) {
        if (Py_EnterRecursiveCall(" while encoding")) return -1;
        r = t == &PyList_Type ? write_list(o, obj, depth) : write_dict(o, obj, depth);
        Py_LeaveRecursiveCall();
        return r;
    }
    if ((PyObject *)t == UUID_TYPE && w->max_str >= 36 && (!w->tag_uuid || envelope_fits(w, depth))) {
        char text[38];
        if (put_uuid(text + 1, obj) < 0) return -1;
        text[0] = text[37] = '"';
        if (w->tag_uuid) return write_envelope_head(o, TAG_UUID) < 0 || put(o, text, 38) < 0 ? -1 : putc1(o, '}');
        return put(o, text, 38);
    }
    if (t == PyDateTimeAPI->DateTimeType && w->iso_dates && !PyDateTime_DATE_GET_FOLD(obj) && w->max_str >= 32 &&
        (!w->typed || envelope_fits(w, depth))) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
        if (tz == Py_None || tz == PyDateTime_TimeZone_UTC) {
            char text[48], *e = put_iso(text + 1, obj);
            if (tz != Py_None) { memcpy(e, "+00:00", 6); e += 6; }
            text[0] = *e++ = '"';
            if (w->typed) return write_envelope_head(o, TAG_DATETIME) < 0 || put(o, text, e - text) < 0 ? -1 : putc1(o, '}');
            return put(o, text, e - text);
        }
    }
    int kind, layout;
    PyObject *entry = peek_entry(t, &kind, &layout);
    if (entry != NULL && kind >= K_NP_BOOL && kind <= K_NP_FLOAT16) { /* no Python runs: the borrowed entry lives */
        r = write_leaf(o, obj, kind, layout, PyTuple_GET_ITEM(entry, 1), depth);
        return r != 0 ? (r < 0 ? -1 : 0) : write_slow(o, obj, depth);
    }
    Py_XINCREF(entry);
    if (entry != NULL) {
        PyObject *tag = PyTuple_GET_ITEM(entry, 1);
        if (kind == K_FIELDS && !w->strict) {
            r = write_fields(o, obj, PyTuple_GET_ITEM(entry, 2), depth);
            if (r != 0) {
                Py_DECREF(entry);
                return r < 0 ? -1 : 0;
            }
        } else if (kind == K_ENUM_TAGGED && (!w->typed || envelope_fits(w, depth))) {
            PyObject *value = PyObject_GetAttr(obj, STR_VALUE_);
            if (value != NULL) {
                r = w->typed ? write_envelope_head(o, tag) : 0;
                if (r == 0) r = write_value(o, value, w->typed ? depth + 1 : depth);
                if (r == 0 && w->typed) r = putc1(o, '}');
                Py_DECREF(value);
                Py_DECREF(entry);
                return r;
            }
            PyErr_Clear();
        } else if (kind == K_ENUM || kind == K_UNTAGGED) {
            PyObject *natural = natural_form(w, obj, kind, PyTuple_GET_ITEM(entry, 2));
            if (natural != NULL) {
                Py_DECREF(entry);
                r = write_value(o, natural, depth);
                Py_DECREF(natural);
                return r;
            }
        } else if (kind == K_NDARRAY) {
            r = write_array(o, obj, tag, depth);
            if (r != 0) {
                Py_DECREF(entry);
                return r < 0 ? -1 : 0;
            }
        } else {
            r = write_leaf(o, obj, kind, layout, tag, depth);
            if (r != 0) {
                Py_DECREF(entry);
                return r < 0 ? -1 : 0;
            }
        }
        Py_DECREF(entry);
    }
    return write_slow(o, obj, depth);
}

static PyObject *Walker_dumpb(Walker *w, PyObject *args) {
    PyObject *obj, *result = NULL;
    int sort_keys;
    if (!PyArg_ParseTuple(args, "Op", &obj, &sort_keys)) return NULL;
    Writer o = {w, NULL, 0, 0, sort_keys};
    if (grow(&o, 256) == 0 && write_value(&o, obj, 1) == 0) result = PyBytes_FromStringAndSize(o.buf, o.len);
    PyMem_Free(o.buf);
    return result;
}

/* ---- decoder --------------------------------------------------------------------------------- */

/* datetime.fromisoformat, with the forms datason writes parsed in C: "YYYY-MM-DDTHH:MM:SS[.ffffff]" with no
 * offset, "Z" or "+HH:MM" (T or a space). Fixed offsets share one timezone object per offset (they are
 * immutable and equal to fromisoformat's); anything else, valid or not, is fromisoformat's to read. */
static PyObject *tz_by_minute[2 * 24 * 60 + 1];

static inline int digits_at(const Py_UCS1 *c, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (c[i] < '0' || c[i] > '9') return -1;
        v = v * 10 + (c[i] - '0');
    }
    return v;
}

static PyObject *iso_fast(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (!PyUnicode_IS_ASCII(text) || n < 19) return NULL;
    const Py_UCS1 *c = PyUnicode_1BYTE_DATA(text);
    if (c[4] != '-' || c[7] != '-' || (c[10] != 'T' && c[10] != ' ') || c[13] != ':' || c[16] != ':') return NULL;
    int year = digits_at(c, 4), month = digits_at(c + 5, 2), day = digits_at(c + 8, 2);
    int hour = digits_at(c + 11, 2), minute = digits_at(c + 14, 2), second = digits_at(c + 17, 2), us = 0;
    Py_ssize_t i = 19;
    if (i < n && c[i] == '.') {
        if (n < 26 || (us = digits_at(c + 20, 6)) < 0) return NULL;
        i = 26;
    }
    PyObject *tz = Py_None;
    if (i == n - 1 && c[i] == 'Z') {
        tz = PyDateTime_TimeZone_UTC;
    } else if (i == n - 6 && (c[i] == '+' || c[i] == '-') && c[i + 3] == ':') {
        int oh = digits_at(c + i + 1, 2), om = digits_at(c + i + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59) return NULL;
        int minutes = (c[i] == '-' ? -1 : 1) * (oh * 60 + om);
        if (minutes == 0) {
            tz = PyDateTime_TimeZone_UTC;
        } else {
            PyObject **slot = &tz_by_minute[minutes + 24 * 60];
            if (*slot == NULL) {
                PyObject *delta = PyDelta_FromDSU(0, minutes * 60, 0);
                *slot = delta ? PyTimeZone_FromOffset(delta) : NULL;
                Py_XDECREF(delta);
                if (*slot == NULL) { PyErr_Clear(); return NULL; }
            }
            tz = *slot;
        }
    } else if (i != n) {
        return NULL;
    }
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 59)
        return NULL;
    static const int days_in[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days_in[month - 1] + (month == 2 && leap)) return NULL;
    return PyDateTimeAPI->DateTime_FromDateAndTime(year, month, day, hour, minute, second, us, tz,
                                                   PyDateTimeAPI->DateTimeType);
}

static PyObject *from_iso(PyObject *text) {
    PyObject *r = iso_fast(text);
    if (r != NULL || PyErr_Occurred()) return r;
    return PyObject_CallOneArg(FROMISOFORMAT, text);
}


typedef struct {
    PyObject_HEAD
    PyObject *slow;   /* decoder.py_value(node, depth) */
    PyObject *tagged; /* decoder.tagged(node, depth) */
    PyObject *zone_key, *zone; /* the last zone a {"iso", "tz"} payload named (documents repeat one zone) */
    Py_ssize_t max_depth, max_size, max_str, max_bytes;
    int in_place, auto_mode;
} Reviver;

static PyObject *dec_value(Reviver *w, PyObject *node, Py_ssize_t depth);

static PyObject *call2(PyObject *fn, PyObject *node, Py_ssize_t depth) {
    PyObject *d = PyLong_FromSsize_t(depth), *r;
    if (d == NULL) return NULL;
    r = PyObject_CallFunctionObjArgs(fn, node, d, NULL);
    Py_DECREF(d);
    return r;
}

/* A NumPy scalar of a checked layout (see scalar_layout) holding the `size` bytes at value (a native value of
 * that width), made as NumPy makes its scalars: tp_alloc, then the value after the header. */
static PyObject *new_scalar(PyObject *type, const void *value, int size) {
    PyObject *obj = ((PyTypeObject *)type)->tp_alloc((PyTypeObject *)type, 0);
    if (obj != NULL) memcpy(scalar_value(obj), value, size);
    return obj;
}

/* A JSON number (not a bool) that a NumPy float of this kind holds without overflowing, as a double. */
static int number_fits(PyObject *payload, int kind, double *out) {
    if (!PyFloat_CheckExact(payload) && !PyLong_CheckExact(payload)) return 0;
    double v = PyFloat_AsDouble(payload);
    if (v == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
    if (kind == K_NP_FLOAT32 && isfinite(v) && isinf((float)v)) return 0; /* out of range: Python says so */
    if (kind == K_NP_FLOAT16 && fabs(v) >= 65520.0) return 0;            /* rounds to infinity as a float16 */
    *out = v;
    return 1;
}

/* The wall time of a datetime in another tzinfo, with fold. */
static PyObject *in_zone(PyObject *value, PyObject *tz, int fold) {
    return PyDateTimeAPI->DateTime_FromDateAndTimeAndFold(
        PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value), PyDateTime_GET_DAY(value),
        PyDateTime_DATE_GET_HOUR(value), PyDateTime_DATE_GET_MINUTE(value), PyDateTime_DATE_GET_SECOND(value),
        PyDateTime_DATE_GET_MICROSECOND(value), tz, fold, PyDateTimeAPI->DateTimeType);
}

/* A datetime from {"iso", "tz"?, "fold"?} (handlers.builtins._dec_datetime): the wall time of iso in the zone
 * ZoneInfo(tz), with fold; NULL (error cleared by the caller) for any other form. */
static PyObject *datetime_from_fields(Reviver *w, PyObject *payload, PyObject *zoneinfo) {
    PyObject *iso = NULL, *key = NULL, *fold = NULL, *k, *v, *value, *tz, *r;
    Py_ssize_t pos = 0;
    while (PyDict_Next(payload, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) return NULL;
        if (PyUnicode_Compare(k, STR_ISO) == 0) iso = v;
        else if (PyUnicode_Compare(k, STR_TZ) == 0) key = v;
        else if (PyUnicode_Compare(k, STR_FOLD) == 0) fold = v;
        else return NULL;
    }
    if (iso == NULL || !PyUnicode_CheckExact(iso) || (key != NULL && !PyUnicode_CheckExact(key))) return NULL;
    long f = 0;
    if (fold != NULL) {
        if (!PyLong_CheckExact(fold)) return NULL;
        f = PyLong_AsLong(fold);
        if (f != 0 && f != 1) return NULL;
    }
    value = from_iso(iso);
    if (value == NULL) return NULL;
    if (key == NULL) {
        tz = Py_NewRef(PyDateTime_DATE_GET_TZINFO(value));
    } else if (w->zone_key != NULL && PyUnicode_Compare(key, w->zone_key) == 0) {
        tz = Py_NewRef(w->zone);
    } else {
        tz = PyObject_CallOneArg(zoneinfo, key);
        if (tz != NULL) {
            Py_XSETREF(w->zone_key, Py_NewRef(key));
            Py_XSETREF(w->zone, Py_NewRef(tz));
        }
    }
    if (tz == NULL) { Py_DECREF(value); return NULL; }
    r = in_zone(value, tz, (int)f);
    if (r != NULL && key != NULL && fold == NULL && PyDateTime_DATE_GET_TZINFO(value) != Py_None) {
        /* The repeated hour's second pass from a zone library without fold (pytz, dateutil): the offset the ISO
         * text carries says which pass (handlers.builtins._apply_tz_fields). */
        PyObject *written = PyObject_CallMethodNoArgs(value, STR_UTCOFFSET), *got = PyObject_CallMethodNoArgs(r, STR_UTCOFFSET);
        int same = written && got ? PyObject_RichCompareBool(written, got, Py_EQ) : -1;
        if (same == 0) {
            PyObject *other = in_zone(value, tz, 1), *other_offset = other ? PyObject_CallMethodNoArgs(other, STR_UTCOFFSET) : NULL;
            if (other_offset != NULL && PyObject_RichCompareBool(other_offset, written, Py_EQ) == 1) Py_SETREF(r, Py_NewRef(other));
            Py_XDECREF(other);
            Py_XDECREF(other_offset);
        }
        Py_XDECREF(written);
        Py_XDECREF(got);
        if (same < 0) Py_CLEAR(r);
    }
    Py_DECREF(value);
    Py_DECREF(tz);
    return r;
}

/* A timedelta from {"days", "seconds", "microseconds"} of ints (missing parts 0); NULL for any other form. */
static PyObject *timedelta_from_fields(PyObject *payload) {
    PyObject *names[3] = {STR_DAYS, STR_SECONDS, STR_MICROSECONDS};
    int parts[3] = {0, 0, 0};
    Py_ssize_t found = 0;
    for (int i = 0; i < 3; i++) {
        PyObject *v = PyDict_GetItemWithError(payload, names[i]);
        if (v == NULL) { if (PyErr_Occurred()) return NULL; continue; }
        if (!PyLong_CheckExact(v)) return NULL;
        int overflow;
        long x = PyLong_AsLongAndOverflow(v, &overflow);
        if (overflow || x > 999999999L || x < -999999999L) return NULL;
        parts[i] = (int)x;
        found++;
    }
    /* Any other key goes to Python: it revives the whole payload first (and may fail on it). */
    if (found != PyDict_GET_SIZE(payload)) return NULL;
    return PyDateTimeAPI->Delta_FromDelta(parts[0], parts[1], parts[2], 1, PyDateTimeAPI->DeltaType);
}

/* One nested list level of an array's data into the buffer at *p: -1 (no error set) when anything differs
 * from what C converts exactly (Python then decides, and words any error). */
static int fill_items(PyObject *list, const Py_ssize_t *dims, int ndim, char code, char **p) {
    if (!PyList_CheckExact(list) || PyList_GET_SIZE(list) != dims[0]) return -1;
    for (Py_ssize_t i = 0; i < dims[0]; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (ndim > 1) {
            if (fill_items(item, dims + 1, ndim - 1, code, p) < 0) return -1;
            continue;
        }
        if (code == '?') {
            if (item != Py_True && item != Py_False) return -1;
            *(*p)++ = item == Py_True;
            continue;
        }
        if (code == 'f' || code == 'd') {
            double v;
            if (PyFloat_CheckExact(item)) v = PyFloat_AS_DOUBLE(item);
            else if (PyLong_CheckExact(item)) { /* small ints only: exact in either width, no double rounding */
                long long x = PyLong_AsLongLong(item);
                if ((x == -1 && PyErr_Occurred()) || x > (1LL << 24) || x < -(1LL << 24)) { PyErr_Clear(); return -1; }
                v = (double)x;
            } else return -1; /* "nan" and friends */
            if (code == 'd') { memcpy(*p, &v, 8); *p += 8; continue; }
            float f = (float)v;
            if (!isfinite(f)) return -1; /* out of float32's range: Python says so */
            memcpy(*p, &f, 4);
            *p += 4;
            continue;
        }
        if (!PyLong_CheckExact(item)) return -1;
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(item, &overflow);
        if (x == -1 && PyErr_Occurred()) { PyErr_Clear(); return -1; }
        if (code == 'Q') {
            unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(item) : (unsigned long long)x;
            if ((overflow > 0 && u == (unsigned long long)-1 && PyErr_Occurred()) || overflow < 0 || (!overflow && x < 0)) {
                PyErr_Clear();
                return -1;
            }
            memcpy(*p, &u, 8);
            *p += 8;
            continue;
        }
        if (overflow) return -1;
        switch (code) {
            case 'b': if (x < INT8_MIN || x > INT8_MAX) return -1; *(int8_t *)(*p)++ = (int8_t)x; break;
            case 'B': if (x < 0 || x > UINT8_MAX) return -1; *(uint8_t *)(*p)++ = (uint8_t)x; break;
            case 'h': { if (x < INT16_MIN || x > INT16_MAX) return -1; int16_t v = (int16_t)x; memcpy(*p, &v, 2); *p += 2; break; }
            case 'H': { if (x < 0 || x > UINT16_MAX) return -1; uint16_t v = (uint16_t)x; memcpy(*p, &v, 2); *p += 2; break; }
            case 'i': { if (x < INT32_MIN || x > INT32_MAX) return -1; int32_t v = (int32_t)x; memcpy(*p, &v, 4); *p += 4; break; }
            case 'I': { if (x < 0 || x > UINT32_MAX) return -1; uint32_t v = (uint32_t)x; memcpy(*p, &v, 4); *p += 4; break; }
            case 'q': { int64_t v = (int64_t)x; memcpy(*p, &v, 8); *p += 8; break; }
            default: return -1;
        }
    }
    return 0;
}

/* Do the nested lists have exactly these lengths? (Checked before the buffer is allocated: a hostile
 * payload may declare a shape far larger than its data.) */
static int shape_matches(PyObject *list, const Py_ssize_t *dims, int ndim) {
    if (!PyList_CheckExact(list) || PyList_GET_SIZE(list) != dims[0]) return 0;
    if (ndim > 1)
        for (Py_ssize_t i = 0; i < dims[0]; i++)
            if (!shape_matches(PyList_GET_ITEM(list, i), dims + 1, ndim - 1)) return 0;
    return 1;
}

/* The struct codes fill_items writes and their item sizes, in the order of array_from_fields' dtypes. */
static const char FILL_CODES[] = "?bBhHiIqQfd";
static const int FILL_SIZES[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8};

/* data's items, nested exactly to shape (a list of ints, checked against the data before anything is
 * allocated: a hostile payload may declare a shape far larger than its data), as a bytearray of native
 * values of FILL_CODES[kind]. NULL without an error when the shape, the nesting or an item is not one C
 * converts exactly, or the item count passes max_count or the bytes max_bytes (Python then decides); NULL with
 * an error only when memory runs out. */
static PyObject *nested_buffer(PyObject *data, PyObject *shape, int kind, Py_ssize_t max_count, Py_ssize_t max_bytes) {
    Py_ssize_t ndim = PyList_GET_SIZE(shape), dims[32], count = 1;
    if (ndim < 1 || ndim > 32) return NULL;
    for (Py_ssize_t i = 0; i < ndim; i++) {
        PyObject *d = PyList_GET_ITEM(shape, i);
        if (!PyLong_CheckExact(d)) return NULL;
        dims[i] = PyLong_AsSsize_t(d);
        if (dims[i] < 0 || dims[i] > max_count) { PyErr_Clear(); return NULL; }
        if (dims[i] && count > max_count / dims[i]) return NULL;
        count *= dims[i];
    }
    if (count * FILL_SIZES[kind] > max_bytes || !shape_matches(data, dims, (int)ndim)) return NULL;
    PyObject *buffer = PyByteArray_FromStringAndSize(NULL, count * FILL_SIZES[kind]);
    if (buffer == NULL) return NULL;
    char *p = PyByteArray_AS_STRING(buffer);
    if (fill_items(data, dims, (int)ndim, FILL_CODES[kind], &p) < 0) Py_CLEAR(buffer);
    return buffer;
}

/* A typed ndarray payload {"dtype", "shape", "data"} of a native bool, int or float32/64 dtype, rebuilt as
 * numpy.ndarray(shape, dtype, buffer=bytes); NULL (no error) for anything else, Python decides. */
static PyObject *array_from_fields(Reviver *w, PyObject *payload, PyObject *ndarray, Py_ssize_t depth) {
#if PY_BIG_ENDIAN
    return NULL;
#else
    static const char *const dtypes[] = {"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8"};
    if (PyDict_GET_SIZE(payload) != 3) return NULL;
    PyObject *dtype = PyDict_GetItemWithError(payload, STR_DTYPE), *shape = PyDict_GetItemWithError(payload, STR_SHAPE);
    PyObject *data = PyDict_GetItemWithError(payload, STR_DATA);
    if (dtype == NULL || shape == NULL || data == NULL || !PyUnicode_CheckExact(dtype) || !PyList_CheckExact(shape))
        return NULL;
    int kind = -1;
    for (int i = 0; i < 11 && kind < 0; i++)
        if (PyUnicode_CompareWithASCIIString(dtype, dtypes[i]) == 0) kind = i;
    if (kind < 0 || depth + 1 + PyList_GET_SIZE(shape) > w->max_depth) return NULL;
    PyObject *buffer = nested_buffer(data, shape, kind, w->max_size, w->max_bytes), *r = NULL;
    if (buffer == NULL) return NULL;
    PyObject *args = Py_BuildValue("(NO)", PyList_AsTuple(shape), dtype), *kwargs = Py_BuildValue("{sO}", "buffer", buffer);
    if (args != NULL && kwargs != NULL) r = PyObject_Call(ndarray, args, kwargs);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    Py_DECREF(buffer);
    return r;
#endif
}

/* Envelopes decoded in C: UUID and datetime strings, and the tags registered with register_tag.
 * NULL, no error: not handled here (the Python walker decides, and words any error). */
static PyObject *fast_tag(Reviver *w, PyObject *tag, PyObject *payload, Py_ssize_t depth) {
    PyObject *r = NULL, *entry;
    if (!PyUnicode_CheckExact(tag)) return NULL;
    if (PyUnicode_CheckExact(payload) && PyUnicode_GET_LENGTH(payload) > w->max_str) return NULL;
    if (PyDict_CheckExact(payload) && (depth + 1 > w->max_depth || w->max_size < 3 || w->max_str < 64)) return NULL;
    if (PyUnicode_CheckExact(payload) && (tag == TAG_UUID || PyUnicode_Compare(tag, TAG_UUID) == 0)) {
        r = uuid_from_text(payload);
    } else if (PyUnicode_CheckExact(payload) && (tag == TAG_DATETIME || PyUnicode_Compare(tag, TAG_DATETIME) == 0)) {
        r = from_iso(payload);
    } else if ((entry = PyDict_GetItemWithError(fast_tags, tag)) != NULL) {
        Py_INCREF(entry);
        long code = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
        int kind = (int)(code & 0xFF), layout = (int)(code >> 8);
        PyObject *extra = PyTuple_GET_ITEM(entry, 1), *pt = (PyObject *)Py_TYPE(payload);
        switch (kind) {
            case K_DATETIME:
                if (pt == (PyObject *)&PyDict_Type) r = datetime_from_fields(w, payload, extra);
                break;
            case K_TIMEDELTA:
                if (pt == (PyObject *)&PyDict_Type) r = timedelta_from_fields(payload);
                break;
            case K_NDARRAY: /* extra: numpy.ndarray */
                if (pt == (PyObject *)&PyDict_Type) r = array_from_fields(w, payload, extra, depth);
                break;
            case K_DATE: case K_TIME: case K_STR: /* extra: the constructor from the string */
                if (pt == (PyObject *)&PyUnicode_Type) r = PyObject_CallOneArg(extra, payload);
                break;
            case K_ENUM_TAGGED: /* extra: (the Enum class, its value -> member map); payload a JSON scalar */
                if ((pt == (PyObject *)&PyUnicode_Type || pt == (PyObject *)&PyLong_Type || pt == (PyObject *)&PyFloat_Type ||
                     pt == (PyObject *)&PyBool_Type || payload == Py_None) && PyTuple_Check(extra)) {
                    PyObject *map = PyTuple_GET_ITEM(extra, 1);
                    r = PyDict_Check(map) ? Py_XNewRef(PyDict_GetItemWithError(map, payload)) : NULL;
                    if (r == NULL && !PyErr_Occurred()) r = PyObject_CallOneArg(PyTuple_GET_ITEM(extra, 0), payload);
                }
                break;
            case K_NP_BOOL: /* extra: the scalar type */
                if (pt == (PyObject *)&PyBool_Type) r = PyObject_CallOneArg(extra, payload);
                break;
            case K_NP_INT: { /* extra: (type, min, max) */
                if (pt != (PyObject *)&PyLong_Type || !PyTuple_Check(extra)) break;
                if (PyObject_RichCompareBool(payload, PyTuple_GET_ITEM(extra, 1), Py_GE) != 1 ||
                    PyObject_RichCompareBool(payload, PyTuple_GET_ITEM(extra, 2), Py_LE) != 1)
                    break;
                if (layout & RAW_SCALAR) { /* in range: the value in the type's width (two's complement) */
                    int size = layout >> 1 & 15, overflow;
                    long long x = PyLong_AsLongLongAndOverflow(payload, &overflow);
                    unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(payload) : (unsigned long long)x;
                    uint8_t b1 = (uint8_t)u;
                    uint16_t b2 = (uint16_t)u;
                    uint32_t b4 = (uint32_t)u;
                    const void *bytes = size == 1 ? (const void *)&b1 : size == 2 ? (const void *)&b2
                                      : size == 4 ? (const void *)&b4 : (const void *)&u;
                    if (!PyErr_Occurred()) r = new_scalar(PyTuple_GET_ITEM(extra, 0), bytes, size);
                    break;
                }
                r = PyObject_CallOneArg(PyTuple_GET_ITEM(extra, 0), payload);
                break;
            }
            case K_NP_FLOAT: case K_NP_FLOAT32: case K_NP_FLOAT16: { /* extra: the scalar type */
                double v;
                if (!number_fits(payload, kind, &v)) break;
                if (layout & RAW_SCALAR) {
                    float f = (float)v;
                    r = kind == K_NP_FLOAT32 ? new_scalar(extra, &f, 4) : new_scalar(extra, &v, 8);
                    break;
                }
                PyObject *f = PyFloat_FromDouble(v);
                if (f != NULL) r = PyObject_CallOneArg(extra, f);
                Py_XDECREF(f);
                break;
            }
            case K_NP_COMPLEX64: case K_NP_COMPLEX128: { /* {"real", "imag"}; extra: the scalar type */
                if (pt != (PyObject *)&PyDict_Type || PyDict_GET_SIZE(payload) != 2) break;
                PyObject *re = PyDict_GetItemWithError(payload, STR_REAL), *im = PyDict_GetItemWithError(payload, STR_IMAG);
                Py_complex c;
                int part = kind == K_NP_COMPLEX64 ? K_NP_FLOAT32 : K_NP_FLOAT;
                if (re == NULL || im == NULL || !number_fits(re, part, &c.real) || !number_fits(im, part, &c.imag)) break;
                PyObject *z = PyComplex_FromCComplex(c);
                if (z != NULL) r = PyObject_CallOneArg(extra, z);
                Py_XDECREF(z);
                break;
            }
        }
        Py_DECREF(entry);
    }
    if (r == NULL) PyErr_Clear(); /* not the common form: the Python walker decides (and words any error) */
    return r;
}

static PyObject *dec_tagged(Reviver *w, PyObject *node, Py_ssize_t depth) {
    PyObject *tag = PyDict_GetItemWithError(node, TYPE_KEY);
    PyObject *payload = PyDict_GetItemWithError(node, VALUE_KEY);
    if (tag != NULL && payload != NULL) {
        PyObject *r = fast_tag(w, tag, payload, depth);
        if (r != NULL) return r;
    }
    return call2(w->tagged, node, depth);
}

static PyObject *dec_list(Reviver *w, PyObject *node, Py_ssize_t depth) {
    Py_ssize_t n = PyList_GET_SIZE(node);
    PyObject *out;
    if (depth > w->max_depth || n > w->max_size) return call2(w->slow, node, depth);
    out = w->in_place ? Py_NewRef(node) : PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(node, i), *dec;
        Py_INCREF(item);
        dec = dec_value(w, item, depth + 1);
        if (dec == NULL) { Py_DECREF(item); add_index(i); Py_DECREF(out); return NULL; }
        if (w->in_place) {
            if (dec != item) PyList_SetItem(out, i, dec); else Py_DECREF(dec);
        } else {
            PyList_SET_ITEM(out, i, dec);
        }
        Py_DECREF(item);
    }
    return out;
}

static PyObject *dec_dict(Reviver *w, PyObject *node, Py_ssize_t depth) {
    Py_ssize_t pos = 0, n = PyDict_GET_SIZE(node);
    PyObject *key, *item, *out;
    if (depth > w->max_depth || n > w->max_size) return call2(w->slow, node, depth);
    if (n == 2) {
        int a = PyDict_Contains(node, TYPE_KEY);
        if (a < 0) return NULL;
        if (a) {
            int b = PyDict_Contains(node, VALUE_KEY);
            if (b < 0) return NULL;
            if (b) return dec_tagged(w, node, depth);
        }
    }
    /* A copy made at once (CPython clones a dict's table, far faster than inserting its items one by one),
     * then only the values that decode to another object are replaced: most values of plain JSON do not. */
    out = w->in_place ? Py_NewRef(node) : PyDict_Copy(node);
    if (out == NULL) return NULL;
    while (PyDict_Next(node, &pos, &key, &item)) {
        PyObject *dec;
        if (PyUnicode_CheckExact(key) && PyUnicode_GET_LENGTH(key) > w->max_str) {
            Py_DECREF(out);
            return call2(w->slow, node, depth);
        }
        Py_INCREF(key);
        Py_INCREF(item);
        dec = dec_value(w, item, depth + 1);
        if (dec == NULL) goto fail;
        if (dec != item) {
            if (PyDict_SetItem(out, key, dec) < 0) { Py_DECREF(dec); goto fail; }
        }
        Py_DECREF(dec);
        Py_DECREF(item);
        Py_DECREF(key);
        continue;
    fail:
        add_key(key);
        Py_DECREF(item);
        Py_DECREF(key);
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

enum { AUTO_DATES = 1, AUTO_UUIDS = 2, AUTO_NUMBERS = 4 };

/* auto mode (decoder.Decoder.string): a UUID or ISO datetime hidden in a plain string, else the string.
 * Numbers (aggressive) and non-ASCII text that a pattern could match go to Python. */
static PyObject *auto_string(Reviver *w, PyObject *s, Py_ssize_t depth) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int flags = w->auto_mode;
    if (!PyUnicode_IS_ASCII(s)) /* \d matches other scripts' digits, and int() reads them */
        return flags & (AUTO_DATES | AUTO_NUMBERS) ? call2(w->slow, s, depth) : Py_NewRef(s);
    const unsigned char *c = PyUnicode_1BYTE_DATA(s);
    if ((flags & AUTO_UUIDS) && n == 36) {
        PyObject *u = uuid_from_text(s);
        if (u != NULL) return u;
        if (PyErr_Occurred()) return NULL;
    }
    if ((flags & AUTO_DATES) && n >= 16 && n <= 40) {
        static const char pattern[] = "dddd-dd-ddTdd:dd";
        int match = 1;
        for (int i = 0; match && i < 16; i++) {
            char p = pattern[i];
            match = p == 'd' ? (c[i] >= '0' && c[i] <= '9') : p == 'T' ? (c[i] == 'T' || c[i] == ' ') : c[i] == p;
        }
        if (match) {
            PyObject *d = from_iso(s);
            if (d != NULL || !PyErr_ExceptionMatches(PyExc_ValueError)) return d;
            PyErr_Clear();
            return Py_NewRef(s);
        }
    }
    if ((flags & AUTO_NUMBERS) && n <= 64 && n > 0 && (c[0] == '-' || (c[0] >= '0' && c[0] <= '9')))
        return call2(w->slow, s, depth);
    return Py_NewRef(s);
}

static PyObject *dec_value(Reviver *w, PyObject *node, Py_ssize_t depth) {
    PyTypeObject *t = Py_TYPE(node);
    PyObject *r;
    if (t == &PyUnicode_Type) {
        if (PyUnicode_GET_LENGTH(node) > w->max_str) return call2(w->slow, node, depth);
        return w->auto_mode ? auto_string(w, node, depth) : Py_NewRef(node);
    }
    if (t == &PyLong_Type || t == &PyFloat_Type || t == &PyBool_Type || node == Py_None) return Py_NewRef(node);
    if (t == &PyList_Type || t == &PyDict_Type) {
        if (Py_EnterRecursiveCall(" while decoding")) return NULL;
        r = t == &PyList_Type ? dec_list(w, node, depth) : dec_dict(w, node, depth);
        Py_LeaveRecursiveCall();
        return r;
    }
    return call2(w->slow, node, depth);
}

/* The cyclic garbage collector is paused while a document's containers are built: every one of them survives
 * (they are the result), so each collection their allocations would start (one per 700 containers, a
 * deeper one every ten, a full one now and then) walks them again for nothing; resumed, it sees them once.
 * 2-3x faster on large documents. Nested calls (a Python hook decoding) find it paused and leave it so. */
static PyObject *Reviver_decode(Reviver *w, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "value(node, depth)"); return NULL; }
    Py_ssize_t depth = PyLong_AsSsize_t(args[1]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    PyTypeObject *t = Py_TYPE(args[0]);
    if (t != &PyList_Type && t != &PyDict_Type) return dec_value(w, args[0], depth);
    int collecting = PyGC_Disable();
    PyObject *r = dec_value(w, args[0], depth);
    if (collecting) PyGC_Enable();
    return r;
}

/* ---- parser: JSON text -> values, reviving envelopes as they close ---------------------------- */
/* Strict RFC 8259: no NaN/Infinity tokens, no trailing commas or data, no control characters in
 * strings, valid UTF-8, no lone surrogates. Ints of any size (up to CPython's digit limit) are exact;
 * floats are correctly rounded and must be finite. Values under a marker key are parsed raw (not
 * revived) so that the envelope's handler sees its payload as JSON. */

typedef struct {
    const unsigned char *start, *p, *end;
    Reviver *w;
} Parser;

#define KEY_CACHE_SIZE 1024
static PyObject *key_cache[KEY_CACHE_SIZE];

/* The cache slot of a key's bytes: its first and last eight bytes (all of a shorter key) and its length, mixed
 * by two multiplications; a collision only costs a miss (a hit is confirmed byte by byte). */
static size_t key_slot(const unsigned char *s, Py_ssize_t n) {
    uint64_t a = 0, b;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else {
        for (Py_ssize_t i = 0; i < n; i++) a |= (uint64_t)s[i] << (8 * i);
        b = a;
    }
    uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ (b ^ (uint64_t)n) * 0xC2B2AE3D27D4EB4FULL;
    return (size_t)(h ^ h >> 29) & (KEY_CACHE_SIZE - 1);
}

static void parse_error(Parser *ps, const char *what) {
    PyObject *msg = PyUnicode_FromFormat("invalid JSON: %s at byte %zd", what, (Py_ssize_t)(ps->p - ps->start));
    if (msg == NULL) return;
    PyObject *exc = PyObject_CallOneArg(DeserializationError, msg);
    Py_DECREF(msg);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

static void limit_error(const char *what, Py_ssize_t limit, const char *type_name) {
    PyObject *msg = PyUnicode_FromFormat("%s=%zd", what, limit);
    if (msg == NULL) return;
    PyObject *kw = Py_BuildValue("{s:s}", "type_name", type_name);
    PyObject *args = PyTuple_Pack(1, msg);
    PyObject *exc = kw && args ? PyObject_Call(SecurityError, args, kw) : NULL;
    Py_DECREF(msg);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

static inline void skip_ws(Parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

static int hex4(const unsigned char *s, unsigned int *out) {
    unsigned int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0) return -1;
        v = v << 4 | (unsigned int)h;
    }
    *out = v;
    return 0;
}

/* A string at ps->p (just after the opening quote). is_key: look in / fill the key cache. */
/* Bytes that end the quick scan of a string: quote, backslash, control characters, non-ASCII. */
static unsigned char string_stop[256];

static PyObject *parse_string(Parser *ps, int is_key) {
    const unsigned char *s = ps->p, *q = s;
    int escaped = 0, ascii = 1;
    PyObject *r;
    while (1) {
        while (q + 4 <= ps->end && !(string_stop[q[0]] | string_stop[q[1]] | string_stop[q[2]] | string_stop[q[3]]))
            q += 4;
        while (q < ps->end && !string_stop[*q]) q++;
        if (q >= ps->end) { ps->p = q; parse_error(ps, "unterminated string"); return NULL; }
        unsigned char c = *q;
        if (c == '"') break;
        if (c == '\\') {
            escaped = 1;
            q += 2;
            continue;
        }
        if (c < 0x20) { ps->p = q; parse_error(ps, "control character in string"); return NULL; }
        if (c >= 0x80) ascii = 0;
        q++;
    }
    if (q > ps->end) { ps->p = ps->end; parse_error(ps, "unterminated string"); return NULL; }
    Py_ssize_t n = q - s;
    if (!escaped) {
        size_t slot = 0;
        if (is_key && ascii && n <= 64) {
            slot = key_slot(s, n);
            PyObject *hit = key_cache[slot];
            if (hit != NULL && PyUnicode_GET_LENGTH(hit) == n && memcmp(PyUnicode_1BYTE_DATA(hit), s, n) == 0) {
                ps->p = q + 1;
                return Py_NewRef(hit);
            }
        }
        if (ascii) {
            r = PyUnicode_New(n, 127);
            if (r == NULL) return NULL;
            memcpy(PyUnicode_1BYTE_DATA(r), s, n);
            if (is_key && n <= 64 && key_cache[slot] != TYPE_KEY && key_cache[slot] != VALUE_KEY)
                Py_XSETREF(key_cache[slot], Py_NewRef(r));
        } else {
            r = PyUnicode_DecodeUTF8((const char *)s, n, "strict");
            if (r == NULL) { PyErr_Clear(); ps->p = s; parse_error(ps, "invalid UTF-8 in string"); return NULL; }
        }
        ps->p = q + 1;
        return r;
    }
    /* Escapes: decode into UTF-8 (never longer than the source), then validate via the UTF-8 decoder. */
    unsigned char *buf = PyMem_Malloc(n ? n : 1), *o = buf;
    if (buf == NULL) return PyErr_NoMemory();
    for (const unsigned char *t = s; t < q;) {
        if (*t != '\\') { *o++ = *t++; continue; }
        t++;
        switch (*t) {
            case '"': *o++ = '"'; t++; break;
            case '\\': *o++ = '\\'; t++; break;
            case '/': *o++ = '/'; t++; break;
            case 'b': *o++ = '\b'; t++; break;
            case 'f': *o++ = '\f'; t++; break;
            case 'n': *o++ = '\n'; t++; break;
            case 'r': *o++ = '\r'; t++; break;
            case 't': *o++ = '\t'; t++; break;
            case 'u': {
                unsigned int cp, lo;
                if (q - t < 5 || hex4(t + 1, &cp) < 0) goto bad_escape;
                t += 5;
                if (cp >= 0xDC00 && cp <= 0xDFFF) goto lone;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (q - t < 6 || t[0] != '\\' || t[1] != 'u' || hex4(t + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                        goto lone;
                    t += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80) *o++ = (unsigned char)cp;
                else if (cp < 0x800) { *o++ = 0xC0 | cp >> 6; *o++ = 0x80 | (cp & 63); }
                else if (cp < 0x10000) { *o++ = 0xE0 | cp >> 12; *o++ = 0x80 | (cp >> 6 & 63); *o++ = 0x80 | (cp & 63); }
                else {
                    *o++ = 0xF0 | cp >> 18; *o++ = 0x80 | (cp >> 12 & 63);
                    *o++ = 0x80 | (cp >> 6 & 63); *o++ = 0x80 | (cp & 63);
                }
                break;
            }
            default: goto bad_escape;
        }
    }
    r = PyUnicode_DecodeUTF8((const char *)buf, o - buf, "strict");
    PyMem_Free(buf);
    if (r == NULL) { PyErr_Clear(); ps->p = s; parse_error(ps, "invalid UTF-8 in string"); return NULL; }
    ps->p = q + 1;
    return r;
bad_escape:
    PyMem_Free(buf);
    ps->p = s;
    parse_error(ps, "invalid escape in string");
    return NULL;
lone:
    PyMem_Free(buf);
    ps->p = s;
    parse_error(ps, "lone surrogate escape in string");
    return NULL;
}

#if defined(__x86_64__) && LDBL_MANT_DIG == 64
static const long double POW10L[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                       1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                       1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif
static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static PyObject *parse_number(Parser *ps) {
    const unsigned char *s = ps->p, *q = s;
    int negative = 0, is_float = 0, sig = 0, inexact = 0;
    unsigned long long mantissa = 0; /* the first 19 significant digits */
    long exponent = 0, shift = 0;    /* value = mantissa * 10**(exponent + shift) when exact */
    if (*q == '-') { negative = 1; q++; }
    if (q >= ps->end) goto bad;
    if (*q == '0') q++;
    else if (*q >= '1' && *q <= '9') {
        for (; q < ps->end && *q >= '0' && *q <= '9'; q++) {
            if (sig < 19) { mantissa = mantissa * 10 + (*q - '0'); sig += mantissa != 0; }
            else { inexact = 1; shift++; }
        }
    } else goto bad;
    if (q < ps->end && *q == '.') {
        is_float = 1;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') goto bad;
        for (; q < ps->end && *q >= '0' && *q <= '9'; q++) {
            if (sig < 19) { mantissa = mantissa * 10 + (*q - '0'); sig += mantissa != 0; shift--; }
            else inexact = 1;
        }
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        int exp_negative = 0;
        is_float = 1;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) { exp_negative = *q == '-'; q++; }
        if (q >= ps->end || *q < '0' || *q > '9') goto bad;
        for (; q < ps->end && *q >= '0' && *q <= '9'; q++)
            if (exponent < 100000) exponent = exponent * 10 + (*q - '0');
        if (exp_negative) exponent = -exponent;
    }
    if (!is_float && !inexact && sig <= 18) { /* exact in a signed 64-bit int */
        ps->p = q;
        return PyLong_FromLongLong(negative ? -(long long)mantissa : (long long)mantissa);
    }
    if (is_float && !inexact && mantissa < (1ULL << 53)) {
        /* Clinger's fast path: mantissa and 10**|e| are exact doubles, so one operation rounds correctly. */
        long e10 = exponent + shift;
        if (e10 >= -22 && e10 <= 22) {
            double d = (double)mantissa;
            d = e10 < 0 ? d / POW10[-e10] : d * POW10[e10];
            ps->p = q;
            return PyFloat_FromDouble(negative ? -d : d);
        }
    }
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
    if (is_float && !inexact && mantissa != 0) {
        /* Up to 19 digits: mantissa and 10**|e| (|e| <= 27) are exact in x87 extended precision, so one
         * operation gives the value within half an extended ulp. Rounding that to double is correct unless
         * it sits exactly on a halfway point between two doubles; then strtod decides. */
        long e10 = exponent + shift;
        if (e10 >= -27 && e10 <= 27) {
            long double x = (long double)mantissa;
            x = e10 < 0 ? x / POW10L[-e10] : x * POW10L[e10];
            int e2;
            unsigned long long bits = (unsigned long long)ldexpl(frexpl(x, &e2), 64);
            if ((bits & 0x7FF) != 0x400) {
                double d = (double)x;
                ps->p = q;
                return PyFloat_FromDouble(negative ? -d : d);
            }
        }
    }
#endif
    Py_ssize_t n = q - s;
    char small[64], *text = n < 64 ? small : PyMem_Malloc(n + 1);
    if (text == NULL) return PyErr_NoMemory();
    memcpy(text, s, n);
    text[n] = 0;
    PyObject *r;
    if (!is_float) {
        r = PyLong_FromString(text, NULL, 10);
        if (r == NULL) { PyErr_Clear(); ps->p = s; parse_error(ps, "integer too long"); }
    } else {
#ifdef HAVE_STRTOD_L
        double d = c_locale ? strtod_l(text, NULL, c_locale) : PyOS_string_to_double(text, NULL, NULL);
#else
        double d = PyOS_string_to_double(text, NULL, NULL);
#endif
        if (d == -1.0 && PyErr_Occurred()) r = NULL;
        else if (!isfinite(d)) { r = NULL; ps->p = s; parse_error(ps, "number out of range"); }
        else r = PyFloat_FromDouble(d);
    }
    if (text != small) PyMem_Free(text);
    if (r != NULL) ps->p = q;
    return r;
bad:
    ps->p = s;
    parse_error(ps, "invalid number");
    return NULL;
}

static PyObject *parse_value(Parser *ps, Py_ssize_t depth, int raw);

static PyObject *parse_array(Parser *ps, Py_ssize_t depth, int raw) {
    PyObject *list, *item;
    if (depth > ps->w->max_depth) { limit_error("nesting deeper than max_depth", ps->w->max_depth, "list"); return NULL; }
    list = PyList_New(0);
    if (list == NULL) return NULL;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') { ps->p++; return list; }
    for (Py_ssize_t i = 0;; i++) {
        if (i >= ps->w->max_size) {
            limit_error("container larger than max_size", ps->w->max_size, "list");
            Py_DECREF(list);
            return NULL;
        }
        item = parse_value(ps, depth + 1, raw);
        if (item == NULL) { add_index(i); Py_DECREF(list); return NULL; }
        if (PyList_Append(list, item) < 0) { Py_DECREF(item); Py_DECREF(list); return NULL; }
        Py_DECREF(item);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == ']') { ps->p++; return list; }
        parse_error(ps, "expected ',' or ']'");
        Py_DECREF(list);
        return NULL;
    }
}

/* 1: TYPE_KEY, 2: VALUE_KEY, 0: another key. */
static inline int marker_kind(PyObject *key) {
    if (key == TYPE_KEY) return 1;
    if (key == VALUE_KEY) return 2;
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    if (n == PyUnicode_GET_LENGTH(TYPE_KEY) && PyUnicode_Compare(key, TYPE_KEY) == 0) return 1;
    if (n == PyUnicode_GET_LENGTH(VALUE_KEY) && PyUnicode_Compare(key, VALUE_KEY) == 0) return 2;
    return 0;
}

/* Objects hold their first two members in locals, so an envelope is revived without building a dict. */
static PyObject *parse_object(Parser *ps, Py_ssize_t depth, int raw) {
    PyObject *dict = NULL, *key = NULL, *value = NULL, *k[2] = {NULL, NULL}, *v[2] = {NULL, NULL}, *r;
    int count = 0, kinds = 0, kind0 = 0;
    Py_ssize_t size = 0;
    if (depth > ps->w->max_depth) { limit_error("nesting deeper than max_depth", ps->w->max_depth, "dict"); return NULL; }
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') { ps->p++; return PyDict_New(); }
    while (1) {
        if (size >= ps->w->max_size) { limit_error("container larger than max_size", ps->w->max_size, "dict"); goto fail; }
        if (ps->p >= ps->end || *ps->p != '"') { parse_error(ps, "expected a string key"); goto fail; }
        ps->p++;
        key = parse_string(ps, 1);
        if (key == NULL) goto fail;
        int kind = raw ? 0 : marker_kind(key); /* the marker keys are structure, not data: no length limit */
        if (!kind && PyUnicode_GET_LENGTH(key) > ps->w->max_str) {
            limit_error("key longer than max_string_length", ps->w->max_str, "str");
            goto fail; /* the path stops at this dict: the key itself is never quoted */
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') { parse_error(ps, "expected ':'"); goto fail; }
        ps->p++;
        skip_ws(ps);
        if (kind == 1 && ps->p < ps->end && *ps->p == '"') { /* a tag: cached like a key */
            ps->p++;
            value = parse_string(ps, 1);
            if (value != NULL && PyUnicode_GET_LENGTH(value) > ps->w->max_str) {
                Py_CLEAR(value);
                limit_error("string longer than max_string_length", ps->w->max_str, "str");
            }
        } else {
            value = parse_value(ps, depth + 1, raw || kind);
        }
        if (value == NULL) {
            if (!kind) add_key(key); /* inside an envelope the path goes straight to the payload */
            goto fail;
        }
        kinds |= kind;
        size++;
        if (dict == NULL && count < 2) {
            if (count == 0) kind0 = kind;
            k[count] = key;
            v[count] = value;
            count++;
        } else {
            if (dict == NULL) {
                dict = PyDict_New();
                if (dict == NULL) goto fail;
                for (int i = 0; i < count; i++) {
                    if (PyDict_SetItem(dict, k[i], v[i]) < 0) goto fail;
                    Py_CLEAR(k[i]);
                    Py_CLEAR(v[i]);
                }
            }
            if (PyDict_SetItem(dict, key, value) < 0) goto fail;
            Py_CLEAR(key);
            Py_CLEAR(value);
        }
        key = value = NULL;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; skip_ws(ps); continue; }
        if (ps->p < ps->end && *ps->p == '}') { ps->p++; break; }
        parse_error(ps, "expected ',' or '}'");
        goto fail;
    }
    if (dict == NULL && count == 2 && kinds == 3 && kind0 != 0) {
        /* An envelope: {TYPE_KEY: tag, VALUE_KEY: payload}, in either order. */
        PyObject *tag = kind0 == 1 ? v[0] : v[1], *payload = kind0 == 1 ? v[1] : v[0];
        r = fast_tag(ps->w, tag, payload, depth);
        if (r != NULL) goto done;
    }
    if (dict == NULL) {
        dict = PyDict_New();
        if (dict == NULL) goto fail;
        for (int i = 0; i < count; i++) {
            if (PyDict_SetItem(dict, k[i], v[i]) < 0) goto fail;
            Py_CLEAR(k[i]);
            Py_CLEAR(v[i]);
        }
    }
    if (kinds) {
        int a = PyDict_Contains(dict, TYPE_KEY), b = PyDict_Contains(dict, VALUE_KEY);
        if (a < 0 || b < 0) goto fail;
        if (a && b && PyDict_GET_SIZE(dict) == 2) {
            r = call2(ps->w->tagged, dict, depth);
            goto done;
        }
        /* Not an envelope after all: revive the values parsed raw. */
        PyObject *keys[2] = {TYPE_KEY, VALUE_KEY};
        for (int i = 0; i < 2; i++) {
            PyObject *raw_value = PyDict_GetItemWithError(dict, keys[i]);
            if (raw_value == NULL) { if (PyErr_Occurred()) goto fail; continue; }
            Py_INCREF(raw_value);
            PyObject *revived = dec_value(ps->w, raw_value, depth + 1);
            Py_DECREF(raw_value);
            if (revived == NULL) { add_key(keys[i]); goto fail; }
            int err = PyDict_SetItem(dict, keys[i], revived);
            Py_DECREF(revived);
            if (err < 0) goto fail;
        }
    }
    return dict;
done:
    for (int i = 0; i < 2; i++) { Py_XDECREF(k[i]); Py_XDECREF(v[i]); }
    Py_XDECREF(dict);
    return r;
fail:
    Py_XDECREF(key);
    Py_XDECREF(value);
    for (int i = 0; i < 2; i++) { Py_XDECREF(k[i]); Py_XDECREF(v[i]); }
    Py_XDECREF(dict);
    return NULL;
}

static PyObject *parse_value(Parser *ps, Py_ssize_t depth, int raw) {
    PyObject *r;
    skip_ws(ps);
    if (ps->p >= ps->end) { parse_error(ps, "unexpected end of input"); return NULL; }
    switch (*ps->p) {
        case '"':
            ps->p++;
            r = parse_string(ps, 0);
            if (r != NULL && PyUnicode_GET_LENGTH(r) > ps->w->max_str) {
                Py_DECREF(r);
                limit_error("string longer than max_string_length", ps->w->max_str, "str");
                return NULL;
            }
            return r;
        case '{':
        case '[':
            if (Py_EnterRecursiveCall(" while parsing JSON")) return NULL;
            r = *ps->p == '{' ? parse_object(ps, depth, raw) : parse_array(ps, depth, raw);
            Py_LeaveRecursiveCall();
            return r;
        case 't':
            if (ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0) { ps->p += 4; Py_RETURN_TRUE; }
            break;
        case 'f':
            if (ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0) { ps->p += 5; Py_RETURN_FALSE; }
            break;
        case 'n':
            if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) { ps->p += 4; Py_RETURN_NONE; }
            break;
        default:
            if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps);
    }
    parse_error(ps, "unexpected character");
    return NULL;
}

static PyObject *Reviver_parse(Reviver *w, PyObject *data) {
    Parser ps;
    Py_buffer view;
    PyObject *r;
    int have_view = 0;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(data, &n);
        if (s == NULL) {
            PyErr_Clear();
            ps.start = ps.p = (const unsigned char *)"";
            parse_error(&ps, "text is not valid Unicode (lone surrogate)");
            return NULL;
        }
        ps.start = ps.p = (const unsigned char *)s;
        ps.end = ps.p + n;
    } else {
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
        have_view = 1;
        ps.start = ps.p = view.buf;
        ps.end = ps.p + view.len;
    }
    ps.w = w;
    int collecting = PyGC_Disable(); /* see Reviver_decode */
    r = parse_value(&ps, 1, 0);
    if (collecting) PyGC_Enable();
    if (r != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            Py_DECREF(r);
            r = NULL;
            parse_error(&ps, "extra data after the document");
        }
    }
    if (have_view) PyBuffer_Release(&view);
    return r;
}

/* ---- plain fast-path check ------------------------------------------------------------------- */

typedef struct { Py_ssize_t max_depth, max_size, max_str; } Limits;

/* 1: orjson writes obj exactly as datason's plain mode would, within limits; 0: not; -1: error. */
static int native(const Limits *lim, PyObject *obj, Py_ssize_t depth);

/* The common leaves, checked without a call: 1 ok, 0 not native, 2 not a leaf (recurse). */
static inline int native_leaf(const Limits *lim, PyObject *obj) {
    PyTypeObject *t = Py_TYPE(obj);
    if (t == &PyUnicode_Type) return text_ok(obj, lim->max_str);
    if (t == &PyFloat_Type || t == &PyBool_Type || obj == Py_None) return 1;
    if (t == &PyLong_Type) return int_in_range(obj);
    /* orjson writes these as strings of at most 36, 32 and 10 characters. */
    if ((PyObject *)t == UUID_TYPE) return lim->max_str >= 36;
    if (t == PyDateTimeAPI->DateTimeType) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
        return (tz == Py_None || tz == PyDateTime_TimeZone_UTC) && lim->max_str >= 32;
    }
    if (t == PyDateTimeAPI->DateType) return lim->max_str >= 10;
    return 2;
}

static int native(const Limits *lim, PyObject *obj, Py_ssize_t depth) {
    PyTypeObject *t = Py_TYPE(obj);
    int r = native_leaf(lim, obj);
    if (r != 2) return r;
    r = 1;
    if (t == &PyList_Type || t == &PyTuple_Type) {
        Py_ssize_t n = Py_SIZE(obj);
        PyObject **items = t == &PyList_Type ? ((PyListObject *)obj)->ob_item : ((PyTupleObject *)obj)->ob_item;
        if (depth > lim->max_depth || n > lim->max_size) return 0;
        if (Py_EnterRecursiveCall(" while checking")) return -1;
        for (Py_ssize_t i = 0; i < n && r == 1; i++) {
            r = native_leaf(lim, items[i]);
            if (r == 2) r = native(lim, items[i], depth + 1);
        }
        Py_LeaveRecursiveCall();
        return r;
    }
    if (t == &PyDict_Type) {
        Py_ssize_t pos = 0;
        PyObject *key, *item;
        if (depth > lim->max_depth || PyDict_GET_SIZE(obj) > lim->max_size) return 0;
        /* exactly the two marker keys would read back as a typed value: the encoder refuses it */
        if (PyDict_GET_SIZE(obj) == 2 && PyDict_Contains(obj, TYPE_KEY) == 1 && PyDict_Contains(obj, VALUE_KEY) == 1)
            return 0;
        if (Py_EnterRecursiveCall(" while checking")) return -1;
        while (r == 1 && PyDict_Next(obj, &pos, &key, &item)) {
            if (!PyUnicode_CheckExact(key) || !text_ok(key, lim->max_str)) r = 0;
            else {
                r = native_leaf(lim, item);
                if (r == 2) r = native(lim, item, depth + 1);
            }
        }
        Py_LeaveRecursiveCall();
        return r;
    }
    return 0;
}

static PyObject *plain_native(PyObject *self, PyObject *args) {
    PyObject *obj;
    Limits lim;
    if (!PyArg_ParseTuple(args, "Onnn", &obj, &lim.max_depth, &lim.max_size, &lim.max_str)) return NULL;
    int r = native(&lim, obj, 1);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

/* ---- types and module ------------------------------------------------------------------------ */

static int Walker_init(Walker *w, PyObject *args, PyObject *kw) {
    PyObject *slow;
    PyObject *ctx;
    if (!PyArg_ParseTuple(args, "OOnnnppppin", &slow, &ctx, &w->max_depth, &w->max_size, &w->max_str, &w->typed,
                          &w->tag_uuid, &w->iso_dates, &w->strict, &w->arrays, &w->compact_above))
        return -1;
    Py_XSETREF(w->slow, Py_NewRef(slow));
    Py_XSETREF(w->ctx, Py_NewRef(ctx));
    return 0;
}

static int Reviver_init(Reviver *w, PyObject *args, PyObject *kw) {
    PyObject *slow, *tagged;
    if (!PyArg_ParseTuple(args, "OOnnnnpi", &slow, &tagged, &w->max_depth, &w->max_size, &w->max_str, &w->max_bytes,
                          &w->in_place, &w->auto_mode))
        return -1;
    Py_XSETREF(w->slow, Py_NewRef(slow));
    Py_XSETREF(w->tagged, Py_NewRef(tagged));
    return 0;
}

static int Walker_traverse(Walker *w, visitproc visit, void *arg) {
    Py_VISIT(w->slow);
    Py_VISIT(w->ctx);
    for (int i = 0; i < TZ_CACHE; i++) {
        Py_VISIT(w->tz_obj[i]);
        Py_VISIT(w->tz_form[i]);
    }
    return 0;
}
static int Walker_clear(Walker *w) {
    Py_CLEAR(w->slow);
    Py_CLEAR(w->ctx);
    for (int i = 0; i < TZ_CACHE; i++) {
        Py_CLEAR(w->tz_obj[i]);
        Py_CLEAR(w->tz_form[i]);
    }
    return 0;
}
static void Walker_dealloc(Walker *w) {
    PyObject_GC_UnTrack(w);
    Walker_clear(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}
static int Reviver_traverse(Reviver *w, visitproc visit, void *arg) {
    Py_VISIT(w->slow);
    Py_VISIT(w->tagged);
    Py_VISIT(w->zone_key);
    Py_VISIT(w->zone);
    return 0;
}
static int Reviver_clear(Reviver *w) {
    Py_CLEAR(w->slow);
    Py_CLEAR(w->tagged);
    Py_CLEAR(w->zone_key);
    Py_CLEAR(w->zone);
    return 0;
}
static void Reviver_dealloc(Reviver *w) {
    PyObject_GC_UnTrack(w);
    Reviver_clear(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyMethodDef Walker_methods[] = {
    {"value", (PyCFunction)(void (*)(void))Walker_encode, METH_FASTCALL, "Encode obj at depth."},
    {"dumpb", (PyCFunction)Walker_dumpb, METH_VARARGS, "dumpb(obj, sort_keys) -> compact JSON bytes."},
    {NULL}};
static PyMethodDef Reviver_methods[] = {
    {"value", (PyCFunction)(void (*)(void))Reviver_decode, METH_FASTCALL, "Decode node at depth."},
    {"parse", (PyCFunction)Reviver_parse, METH_O, "Parse JSON text (str or bytes-like) and revive it."},
    {NULL}};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "datason._speedups.Walker",
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Walker_init,
    .tp_dealloc = (destructor)Walker_dealloc,
    .tp_traverse = (traverseproc)Walker_traverse,
    .tp_clear = (inquiry)Walker_clear,
    .tp_methods = Walker_methods,
};

static PyTypeObject ReviverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "datason._speedups.Reviver",
    .tp_basicsize = sizeof(Reviver),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reviver_init,
    .tp_dealloc = (destructor)Reviver_dealloc,
    .tp_traverse = (traverseproc)Reviver_traverse,
    .tp_clear = (inquiry)Reviver_clear,
    .tp_methods = Reviver_methods,
};

/* The offset of a __slots__ member holding an object, or 0. */
static Py_ssize_t slot_offset(PyObject *type, PyObject *name) {
    PyObject *descr = PyDict_GetItemWithError(((PyTypeObject *)type)->tp_dict, name);
    if (descr == NULL || !PyObject_TypeCheck(descr, &PyMemberDescr_Type)) { PyErr_Clear(); return 0; }
    PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
    return def->type == T_OBJECT_EX ? def->offset : 0;
}

/* '<prefix>"<key>":' as UTF-8, for the writer's envelopes. */
static char *key_prefix(const char *prefix, PyObject *key, Py_ssize_t *len) {
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(key, &n);
    if (text == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (needs_escape[(unsigned char)text[i]]) { PyErr_SetString(PyExc_ValueError, "marker key needs escaping"); return NULL; }
    size_t p = strlen(prefix);
    char *out = PyMem_Malloc(p + n + 4);
    if (out == NULL) { PyErr_NoMemory(); return NULL; }
    memcpy(out, prefix, p);
    out[p] = '"';
    memcpy(out + p + 1, text, n);
    memcpy(out + p + 1 + n, "\":", 2);
    *len = (Py_ssize_t)(p + n + 3);
    return out;
}

static int kind_code(PyObject *name) {
    for (int k = 1; k < K_COUNT; k++)
        if (PyUnicode_CompareWithASCIIString(name, KIND_NAMES[k]) == 0) return k;
    PyErr_Format(PyExc_ValueError, "unknown fast kind %R", name);
    return -1;
}

/* Whether type's instances hold their value right after PyObject_HEAD: checked on sample values made by
 * calling type (extra: (itemsize, signed) of an int kind). Returns the layout for fast_entry, or 0. */
static int scalar_layout(PyObject *type, int kind, PyObject *extra) {
    static const long long samples[] = {1, 100, -1, -128, 0x7F};
    int size, is_signed = 0;
    if (kind == K_NP_INT) {
        if (!PyArg_ParseTuple(extra, "ip", &size, &is_signed)) { PyErr_Clear(); return 0; }
    } else if (kind == K_NP_FLOAT32) {
        size = 4;
    } else if (kind == K_NP_FLOAT) {
        size = 8;
    } else if (kind == K_NP_BOOL) {
        size = 1;
    } else {
        return 0;
    }
    if (((PyTypeObject *)type)->tp_basicsize < (Py_ssize_t)sizeof(PyObject) + size) return 0;
    for (int i = 0; i < 5; i++) {
        long long v = samples[i];
        if (v < 0 && !is_signed && kind == K_NP_INT) continue;
        PyObject *arg = kind == K_NP_FLOAT32 || kind == K_NP_FLOAT ? PyFloat_FromDouble((double)v / 4) : kind == K_NP_BOOL
                        ? Py_NewRef(v == 1 ? Py_True : Py_False) : PyLong_FromLongLong(v);
        PyObject *obj = arg ? PyObject_CallOneArg(type, arg) : NULL;
        Py_XDECREF(arg);
        if (obj == NULL || Py_TYPE(obj) != (PyTypeObject *)type) { Py_XDECREF(obj); PyErr_Clear(); return 0; }
        int same;
        if (kind == K_NP_FLOAT32) {
            float f;
            memcpy(&f, scalar_value(obj), 4);
            same = f == (float)((double)v / 4);
        } else if (kind == K_NP_FLOAT) {
            double d;
            memcpy(&d, scalar_value(obj), 8);
            same = d == (double)v / 4;
        } else if (kind == K_NP_BOOL) {
            same = *(unsigned char *)scalar_value(obj) == (v == 1);
        } else {
            long long x = 0;
            if (size == 1) {
                if (is_signed) x = *(int8_t *)scalar_value(obj);
                else x = *(uint8_t *)scalar_value(obj);
            } else if (size == 2) {
                int16_t a;
                uint16_t b;
                memcpy(&a, scalar_value(obj), 2);
                memcpy(&b, scalar_value(obj), 2);
                if (is_signed) x = a;
                else x = b;
            } else if (size == 4) {
                int32_t a;
                uint32_t b;
                memcpy(&a, scalar_value(obj), 4);
                memcpy(&b, scalar_value(obj), 4);
                if (is_signed) x = a;
                else x = b;
            } else if (size == 8) {
                memcpy(&x, scalar_value(obj), 8);
            }
            same = size <= 8 && x == v;
        }
        Py_DECREF(obj);
        if (!same) return 0;
    }
    return RAW_SCALAR | size << 1 | is_signed << 5;
}

/* register_type(type, kind, tag, extra): the walker writes exact instances of type itself. */
static PyObject *register_type(PyObject *self, PyObject *args) {
    PyObject *type, *name, *tag, *extra;
    if (!PyArg_ParseTuple(args, "O!UOO", &PyType_Type, &type, &name, &tag, &extra)) return NULL;
    /* Registered already (any registry change empties the table): values C declines (a NaN, a large float64
     * array) come back here each time, and must not redo the layout check nor empty the lookup cache. */
    if (PyDict_Contains(fast_types, type) == 1) Py_RETURN_NONE;
    int kind = kind_code(name);
    if (kind < 0) return NULL;
    long code = kind | (long)scalar_layout(type, kind, extra) << 8;
    PyObject *entry = Py_BuildValue("(lOO)", code, tag, extra);
    if (entry == NULL || PyDict_SetItem(fast_types, type, entry) < 0) { Py_XDECREF(entry); return NULL; }
    Py_DECREF(entry);
    forget_entries();
    Py_RETURN_NONE;
}

/* register_tag(tag, kind, extra): the reviver decodes envelopes of tag itself. */
static PyObject *register_tag(PyObject *self, PyObject *args) {
    PyObject *tag, *name, *extra;
    if (!PyArg_ParseTuple(args, "UUO", &tag, &name, &extra)) return NULL;
    if (PyDict_Contains(fast_tags, tag) == 1) Py_RETURN_NONE; /* registered already, as register_type */
    int kind = kind_code(name);
    if (kind < 0) return NULL;
    long layout = 0; /* NumPy scalars of a checked layout are built without a call (tp_alloc, then the value) */
    if (kind == K_NP_INT && PyTuple_Check(extra) && PyTuple_GET_SIZE(extra) == 3 && PyType_Check(PyTuple_GET_ITEM(extra, 0))) {
        unsigned long long hi = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(extra, 2));
        long long lo = PyLong_AsLongLong(PyTuple_GET_ITEM(extra, 1));
        if (PyErr_Occurred()) PyErr_Clear();
        else {
            int size = hi <= 0xFFULL ? 1 : hi <= 0xFFFFULL ? 2 : hi <= 0xFFFFFFFFULL ? 4 : 8;
            PyObject *info = Py_BuildValue("(ii)", size, lo < 0);
            if (info != NULL) layout = scalar_layout(PyTuple_GET_ITEM(extra, 0), kind, info);
            Py_XDECREF(info);
        }
    } else if ((kind == K_NP_FLOAT || kind == K_NP_FLOAT32) && PyType_Check(extra)) {
        layout = scalar_layout(extra, kind, NULL);
    }
    PyObject *entry = Py_BuildValue("(lO)", kind | layout << 8, extra);
    if (entry == NULL || PyDict_SetItem(fast_tags, tag, entry) < 0) { Py_XDECREF(entry); return NULL; }
    Py_DECREF(entry);
    Py_RETURN_NONE;
}

static PyObject *clear_types(PyObject *self, PyObject *unused) {
    forget_entries();
    PyDict_Clear(fast_types);
    PyDict_Clear(fast_tags);
    Py_RETURN_NONE;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *err, *derr, *serr, *encerr, *seg, *tk, *vk, *uuid_type, *safe, *fromiso, *raw, *tag_uuid, *tag_dt;
    if (!PyArg_ParseTuple(args, "OOOOOUUOOOOUU", &err, &derr, &serr, &encerr, &seg, &tk, &vk, &uuid_type, &safe,
                          &fromiso, &raw, &tag_uuid, &tag_dt))
        return NULL;
    Py_XSETREF(TAG_UUID, PyUnicode_InternFromString(PyUnicode_AsUTF8(tag_uuid)));
    Py_XSETREF(TAG_DATETIME, PyUnicode_InternFromString(PyUnicode_AsUTF8(tag_dt)));
    if (TAG_UUID == NULL || TAG_DATETIME == NULL) return NULL;
    char *head = key_prefix("{", tk, &ENVELOPE_HEAD_LEN), *mid = key_prefix(",", vk, &ENVELOPE_MID_LEN);
    if (head == NULL || mid == NULL) { PyMem_Free(head); PyMem_Free(mid); return NULL; }
    PyMem_Free(ENVELOPE_HEAD);
    PyMem_Free(ENVELOPE_MID);
    ENVELOPE_HEAD = head;
    ENVELOPE_MID = mid;
    Py_XSETREF(RAW_JSON_TYPE, Py_NewRef(raw));
    Py_XSETREF(SerializationError, Py_NewRef(encerr));
    Py_XSETREF(DatasonError, Py_NewRef(err));
    Py_XSETREF(DeserializationError, Py_NewRef(derr));
    Py_XSETREF(SecurityError, Py_NewRef(serr));
    Py_XSETREF(path_segment, Py_NewRef(seg));
    Py_XSETREF(TYPE_KEY, Py_NewRef(tk));
    Py_XSETREF(VALUE_KEY, Py_NewRef(vk));
    Py_XSETREF(UUID_TYPE, Py_NewRef(uuid_type));
    Py_XSETREF(SAFE_UNKNOWN, Py_NewRef(safe));
    Py_XSETREF(FROMISOFORMAT, Py_NewRef(fromiso));
    uuid_int_offset = slot_offset(uuid_type, STR_INT);
    uuid_safe_offset = slot_offset(uuid_type, STR_IS_SAFE);
    /* Seed the key cache with the marker keys so that envelopes compare by identity. */
    PyObject *markers[2] = {TYPE_KEY, VALUE_KEY};
    for (int i = 0; i < 2; i++) {
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(markers[i], &n);
        if (text == NULL) return NULL;
        Py_XSETREF(key_cache[key_slot((const unsigned char *)text, n)], Py_NewRef(markers[i]));
    }
    Py_RETURN_NONE;
}

static PyObject *float16_double(PyObject *self, PyObject *arg) {
    double v = PyFloat_AsDouble(arg);
    if (v == -1.0 && PyErr_Occurred()) return NULL;
    return PyFloat_FromDouble(f16_json_double(v));
}

static PyObject *format_float(PyObject *self, PyObject *arg) {
    double v = PyFloat_AsDouble(arg);
    char buf[FORMAT_SLACK];
    if (v == -1.0 && PyErr_Occurred()) return NULL;
    if (!isfinite(v)) { PyErr_SetString(PyExc_ValueError, "not finite"); return NULL; }
    return PyUnicode_FromStringAndSize(buf, format_double(v, buf));
}

/* Whether count float items of a buffer (code f, d or e) are all finite: the exponent bits of each compared
 * with all ones, branch-free over the whole buffer (NaN and infinity are rare; one answer at the end). */
static int buffer_finite(const void *buf, Py_ssize_t count, char code) {
    const char *p = buf;
    unsigned bad = 0;
    if (code == 'd') {
        for (Py_ssize_t i = 0; i < count; i++) { uint64_t v; memcpy(&v, p + 8 * i, 8); bad |= (v & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL; }
    } else if (code == 'f') {
        for (Py_ssize_t i = 0; i < count; i++) { uint32_t v; memcpy(&v, p + 4 * i, 4); bad |= (v & 0x7F800000U) == 0x7F800000U; }
    } else {
        for (Py_ssize_t i = 0; i < count; i++) { uint16_t v; memcpy(&v, p + 2 * i, 2); bad |= (v & 0x7C00) == 0x7C00; }
    }
    return !bad;
}

/* finite_floats(array) -> bool: a native C-contiguous float16/32/64 buffer without NaN or infinity (False for
 * anything else). The check orjson's writer lacks, in one pass, so float64 data can go to orjson. */
static PyObject *finite_floats(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) { PyErr_Clear(); Py_RETURN_FALSE; }
    const char *f = view.format;
    char code = f != NULL && f[0] && !f[1] ? f[0] : 0;
    int size = code == 'd' ? 8 : code == 'f' ? 4 : code == 'e' ? 2 : 0;
    int ok = size && view.itemsize == size && buffer_finite(view.buf, view.len / size, code);
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

/* list_buffer(list, code, shape) -> bytearray | None: a list's items, nested exactly to shape (row-major; a
 * flat list: [len(list)]), as native values of a struct code ('?', 'b', 'B', 'h', 'H', 'i', 'I', 'q', 'Q',
 * 'f', 'd'): what numpy.array(items, dtype).reshape(shape) holds. None when the nesting differs or an item is
 * not one fill_items converts exactly (a bool where a number is due, an int out of range, a str, a big int for
 * a float): the caller's NumPy path then decides and words any error. */
static PyObject *list_buffer(PyObject *self, PyObject *args) {
    PyObject *list, *shape;
    const char *code;
    if (!PyArg_ParseTuple(args, "O!sO", &PyList_Type, &list, &code, &shape)) return NULL;
    const char *at = code[0] && !code[1] ? strchr(FILL_CODES, code[0]) : NULL;
    if (at == NULL || !PyList_CheckExact(shape)) Py_RETURN_NONE;
    PyObject *buffer = nested_buffer(list, shape, (int)(at - FILL_CODES), PY_SSIZE_T_MAX / 8, PY_SSIZE_T_MAX);
    if (buffer == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return buffer;
}

/* array_json(array) -> bytes | None: the items of a native C-contiguous bool, int or float array as one flat
 * JSON list (what an OIP tensor's "data" holds), floats in their shortest round-trip digits (float32 by its
 * own, float16 by the double it reads back as); None when the buffer is anything else or a float is NaN or
 * infinite (the caller's general path decides what those become). One call, one pass: no config, no walker. */
static PyObject *array_json(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) { PyErr_Clear(); Py_RETURN_NONE; }
    const char *f = view.format;
    char code = f != NULL && f[0] && !f[1] ? f[0] : 0;
    static const char codes[] = "?bBhHiIlLqQfde";
    static const int sizes[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 8, 8, 4, 8, 2};
    const char *at = code ? strchr(codes, code) : NULL;
    Py_ssize_t count = view.itemsize ? view.len / view.itemsize : 0;
    int ok = at != NULL && view.itemsize == sizes[at - codes];
    if (ok && (code == 'f' || code == 'd' || code == 'e')) ok = buffer_finite(view.buf, count, code);
    if (!ok) { PyBuffer_Release(&view); Py_RETURN_NONE; }
    Writer o = {NULL, NULL, 0, 0, 0};
    const char *data = view.buf;
    Py_ssize_t shape = count;
    PyObject *result = NULL;
    /* every item takes at most 25 bytes with its comma (a float's FORMAT_SLACK is room, not length) */
    if (grow(&o, count * 26 + FORMAT_SLACK + 2) == 0 && write_items(&o, &data, code, &shape, 1) == 0)
        result = PyBytes_FromStringAndSize(o.buf, o.len);
    PyMem_Free(o.buf);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef module_methods[] = {
    {"format_float", format_float, METH_O, "The JSON text dumps writes for a finite float (for tests)."},
    {"float16_double", float16_double, METH_O, "The number dumps writes for a float16 value (for tests)."},
    {"array_json", array_json, METH_O, "array_json(array) -> bytes | None: a numeric buffer as a flat JSON list."},
    {"list_buffer", list_buffer, METH_VARARGS, "list_buffer(list, code, shape) -> bytearray | None: native values."},
    {"finite_floats", finite_floats, METH_O, "finite_floats(array) -> bool: a float buffer without NaN or inf."},
    {"configure", configure, METH_VARARGS, "Hand the module datason's constants and classes."},
    {"plain_native", plain_native, METH_VARARGS, "plain_native(obj, max_depth, max_size, max_str) -> bool"},
    {"register_type", register_type, METH_VARARGS, "register_type(type, kind, tag, extra): C writes the type."},
    {"register_tag", register_tag, METH_VARARGS, "register_tag(tag, kind, extra): C decodes the tag."},
    {"clear_types", clear_types, METH_NOARGS, "Forget every registered type and tag (the registry changed)."},
    {NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "datason._speedups", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m;
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    for (int c = 0; c < 256; c++) {
        hex_table[c] = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        string_stop[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
        needs_escape[c] = c == '"' || c == '\\' || c < 0x20;
    }
#ifdef HAVE_STRTOD_L
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
#endif
    if (PyType_Ready(&WalkerType) < 0 || PyType_Ready(&ReviverType) < 0) return NULL;
    INT_ONE = PyLong_FromLong(1);
    fast_types = PyDict_New();
    fast_tags = PyDict_New();
    if (INT_ONE == NULL || fast_types == NULL || fast_tags == NULL) return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(STR_UTCOFFSET, "utcoffset");
    INTERN(STR_REAL, "real");
    INTERN(STR_IMAG, "imag");
    INTERN(STR_TZNAME, "tzname");
    INTERN(STR_KEY, "key");
    INTERN(STR_ZONE, "zone");
    INTERN(STR_VALUE_, "_value_");
    INTERN(STR_ISO, "iso");
    INTERN(STR_TZ, "tz");
    INTERN(STR_FOLD, "fold");
    INTERN(STR_DAYS, "days");
    INTERN(STR_SECONDS, "seconds");
    INTERN(STR_MICROSECONDS, "microseconds");
    INTERN(STR_DTYPE, "dtype");
    INTERN(STR_SHAPE, "shape");
    INTERN(STR_UTC, "UTC");
#undef INTERN
    STR_INT = PyUnicode_InternFromString("int");
    STR_IS_SAFE = PyUnicode_InternFromString("is_safe");
    STR_ISOFORMAT = PyUnicode_InternFromString("isoformat");
    STR_DATA = PyUnicode_InternFromString("data");
    INT_LIMIT = PyLong_FromUnsignedLongLong(0xFFFFFFFFFFFFFFFFULL);
    if (INT_LIMIT != NULL) {
        PyObject *one = PyLong_FromLong(1);
        PyObject *lim = one ? PyNumber_Add(INT_LIMIT, one) : NULL;
        Py_XDECREF(one);
        Py_SETREF(INT_LIMIT, lim);
    }
    if (!STR_DATA || !STR_INT || !STR_IS_SAFE || !STR_ISOFORMAT || !INT_LIMIT) return NULL;
    m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&WalkerType) < 0 ||
        PyModule_AddObjectRef(m, "Reviver", (PyObject *)&ReviverType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
