/* datason._speedups: the hot loops of encoder.py, decoder.py and fastpath.py in C.
 *
 * Same semantics as the Python walkers (which stay the reference and the fallback):
 * C handles the JSON types, UUIDs and naive/UTC datetimes itself and hands every other
 * value, and every limit problem, to the Python walker (`slow(obj, depth)`), which also
 * raises the error. On the way out of an error each container adds its path segment.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

static PyObject *DatasonError;   /* datason.errors.DatasonError */
static PyObject *path_segment;   /* datason.errors.path_segment */
static PyObject *TYPE_KEY, *VALUE_KEY, *TAG_UUID, *TAG_DATETIME, *STR_INT, *STR_IS_SAFE, *STR_ISOFORMAT;
static PyObject *UUID_TYPE, *SAFE_UNKNOWN, *FROMISOFORMAT;
static PyObject *INT_LIMIT; /* 2**64 */

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

/* Is an exact int inside [-2**63, 2**64)? */
static int int_in_range(PyObject *obj) {
    int overflow;
    PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) return 1;
    if (overflow < 0) return 0;
    return PyObject_RichCompareBool(obj, INT_LIMIT, Py_LT);
}

static PyObject *uuid_text(PyObject *u) {
    unsigned char b[16];
    char out[36];
    static const char hex[] = "0123456789abcdef";
    PyObject *value = PyObject_GetAttr(u, STR_INT);
    int j = 0;
    if (value == NULL) return NULL;
    if (!PyLong_Check(value)) { Py_DECREF(value); PyErr_SetString(PyExc_TypeError, "UUID.int"); return NULL; }
#if PY_VERSION_HEX >= 0x030D0000
    if (PyLong_AsNativeBytes(value, b, 16, Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER) < 0) {
        Py_DECREF(value); return NULL;
    }
#else
    if (_PyLong_AsByteArray((PyLongObject *)value, b, 16, 0, 0) < 0) { Py_DECREF(value); return NULL; }
#endif
    Py_DECREF(value);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    return PyUnicode_FromStringAndSize(out, 36);
}

static int hexval(Py_UCS4 c) {
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

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
    if (u == NULL || PyObject_GenericSetAttr(u, STR_INT, value) < 0 ||
        PyObject_GenericSetAttr(u, STR_IS_SAFE, SAFE_UNKNOWN) < 0) {
        Py_XDECREF(u);
        Py_DECREF(value);
        return NULL;
    }
    Py_DECREF(value);
    return u;
}

/* isoformat() of a naive or UTC datetime, written directly (same text as datetime.isoformat). */
static PyObject *iso_datetime(PyObject *d, int utc) {
    char buf[40];
    int n, us = PyDateTime_DATE_GET_MICROSECOND(d);
    n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", PyDateTime_GET_YEAR(d), PyDateTime_GET_MONTH(d),
                 PyDateTime_GET_DAY(d), PyDateTime_DATE_GET_HOUR(d), PyDateTime_DATE_GET_MINUTE(d),
                 PyDateTime_DATE_GET_SECOND(d));
    if (us) n += snprintf(buf + n, sizeof buf - n, ".%06d", us);
    if (utc) n += snprintf(buf + n, sizeof buf - n, "+00:00");
    return PyUnicode_FromStringAndSize(buf, n);
}

/* ---- encoder --------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *slow; /* encoder.py_value(obj, depth) */
    Py_ssize_t max_depth, max_size, max_str;
    int typed, tag_uuid, iso_dates;
} Walker;

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
        if (!PyUnicode_CheckExact(key) || PyUnicode_GET_LENGTH(key) > w->max_str) {
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
        if (PyUnicode_GET_LENGTH(obj) > w->max_str) return call_slow(w, obj, depth);
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
    if ((PyObject *)t == UUID_TYPE) {
        if (!w->tag_uuid) return uuid_text(obj);
        if (depth > w->max_depth) return call_slow(w, obj, depth);
        return envelope(TAG_UUID, uuid_text(obj));
    }
    if (t == PyDateTimeAPI->DateTimeType && w->iso_dates && !PyDateTime_DATE_GET_FOLD(obj)) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
        if (tz == Py_None || tz == PyDateTime_TimeZone_UTC) {
            if (w->typed && depth > w->max_depth) return call_slow(w, obj, depth);
            r = iso_datetime(obj, tz != Py_None);
            return w->typed ? envelope(TAG_DATETIME, r) : r;
        }
    }
    return call_slow(w, obj, depth);
}

static PyObject *Walker_encode(Walker *w, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "value(obj, depth)"); return NULL; }
    Py_ssize_t depth = PyLong_AsSsize_t(args[1]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    return enc_value(w, args[0], depth);
}

/* ---- decoder --------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *slow;   /* decoder.py_value(node, depth) */
    PyObject *tagged; /* decoder.tagged(node, depth) */
    Py_ssize_t max_depth, max_size, max_str;
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

static PyObject *dec_tagged(Reviver *w, PyObject *node, Py_ssize_t depth) {
    PyObject *tag = PyDict_GetItemWithError(node, TYPE_KEY);
    PyObject *payload = PyDict_GetItemWithError(node, VALUE_KEY);
    if (tag != NULL && payload != NULL && PyUnicode_CheckExact(tag) && PyUnicode_CheckExact(payload) &&
        PyUnicode_GET_LENGTH(payload) <= w->max_str) {
        PyObject *r = NULL;
        if (PyUnicode_Compare(tag, TAG_UUID) == 0) {
            r = uuid_from_text(payload);
        } else if (PyUnicode_Compare(tag, TAG_DATETIME) == 0) {
            r = PyObject_CallOneArg(FROMISOFORMAT, payload);
        }
        if (r != NULL) return r;
        PyErr_Clear(); /* not the common form: the Python walker decides (and words any error) */
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
    out = w->in_place ? Py_NewRef(node) : _PyDict_NewPresized(n);
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
        if (!w->in_place || dec != item) {
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

static PyObject *dec_value(Reviver *w, PyObject *node, Py_ssize_t depth) {
    PyTypeObject *t = Py_TYPE(node);
    PyObject *r;
    if (t == &PyUnicode_Type) {
        if (w->auto_mode || PyUnicode_GET_LENGTH(node) > w->max_str) return call2(w->slow, node, depth);
        return Py_NewRef(node);
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

static PyObject *Reviver_decode(Reviver *w, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) { PyErr_SetString(PyExc_TypeError, "value(node, depth)"); return NULL; }
    Py_ssize_t depth = PyLong_AsSsize_t(args[1]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    return dec_value(w, args[0], depth);
}

/* ---- plain fast-path check ------------------------------------------------------------------- */

typedef struct { Py_ssize_t max_depth, max_size, max_str; } Limits;

/* 1: orjson writes obj exactly as datason's plain mode would, within limits; 0: not; -1: error. */
static int native(const Limits *lim, PyObject *obj, Py_ssize_t depth) {
    PyTypeObject *t = Py_TYPE(obj);
    if (t == &PyUnicode_Type) return PyUnicode_GET_LENGTH(obj) <= lim->max_str;
    if (t == &PyFloat_Type || t == &PyBool_Type || obj == Py_None) return 1;
    if (t == &PyLong_Type) return int_in_range(obj);
    if (t == &PyList_Type || t == &PyTuple_Type) {
        Py_ssize_t n = Py_SIZE(obj);
        PyObject **items = t == &PyList_Type ? ((PyListObject *)obj)->ob_item : ((PyTupleObject *)obj)->ob_item;
        int r = 1;
        if (depth > lim->max_depth || n > lim->max_size) return 0;
        if (Py_EnterRecursiveCall(" while checking")) return -1;
        for (Py_ssize_t i = 0; i < n && r == 1; i++) r = native(lim, items[i], depth + 1);
        Py_LeaveRecursiveCall();
        return r;
    }
    if (t == &PyDict_Type) {
        Py_ssize_t pos = 0;
        PyObject *key, *item;
        int r = 1;
        if (depth > lim->max_depth || PyDict_GET_SIZE(obj) > lim->max_size) return 0;
        if (Py_EnterRecursiveCall(" while checking")) return -1;
        while (r == 1 && PyDict_Next(obj, &pos, &key, &item)) {
            if (!PyUnicode_CheckExact(key) || PyUnicode_GET_LENGTH(key) > lim->max_str) r = 0;
            else r = native(lim, item, depth + 1);
        }
        Py_LeaveRecursiveCall();
        return r; /* plain mode writes the marker keys as they are, like any other key */
    }
    if ((PyObject *)t == UUID_TYPE || t == PyDateTimeAPI->DateType) return 1;
    if (t == PyDateTimeAPI->DateTimeType) {
        PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
        return tz == Py_None || tz == PyDateTime_TimeZone_UTC;
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
    if (!PyArg_ParseTuple(args, "Onnnppp", &slow, &w->max_depth, &w->max_size, &w->max_str, &w->typed,
                          &w->tag_uuid, &w->iso_dates))
        return -1;
    Py_XSETREF(w->slow, Py_NewRef(slow));
    return 0;
}

static int Reviver_init(Reviver *w, PyObject *args, PyObject *kw) {
    PyObject *slow, *tagged;
    if (!PyArg_ParseTuple(args, "OOnnnpp", &slow, &tagged, &w->max_depth, &w->max_size, &w->max_str,
                          &w->in_place, &w->auto_mode))
        return -1;
    Py_XSETREF(w->slow, Py_NewRef(slow));
    Py_XSETREF(w->tagged, Py_NewRef(tagged));
    return 0;
}

static int Walker_traverse(Walker *w, visitproc visit, void *arg) { Py_VISIT(w->slow); return 0; }
static int Walker_clear(Walker *w) { Py_CLEAR(w->slow); return 0; }
static void Walker_dealloc(Walker *w) {
    PyObject_GC_UnTrack(w);
    Walker_clear(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}
static int Reviver_traverse(Reviver *w, visitproc visit, void *arg) {
    Py_VISIT(w->slow);
    Py_VISIT(w->tagged);
    return 0;
}
static int Reviver_clear(Reviver *w) { Py_CLEAR(w->slow); Py_CLEAR(w->tagged); return 0; }
static void Reviver_dealloc(Reviver *w) {
    PyObject_GC_UnTrack(w);
    Reviver_clear(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyMethodDef Walker_methods[] = {
    {"value", (PyCFunction)(void (*)(void))Walker_encode, METH_FASTCALL, "Encode obj at depth."},
    {NULL}};
static PyMethodDef Reviver_methods[] = {
    {"value", (PyCFunction)(void (*)(void))Reviver_decode, METH_FASTCALL, "Decode node at depth."},
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

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *err, *seg, *tk, *vk, *uuid_type, *safe, *fromiso;
    if (!PyArg_ParseTuple(args, "OOUUOOO", &err, &seg, &tk, &vk, &uuid_type, &safe, &fromiso)) return NULL;
    Py_XSETREF(DatasonError, Py_NewRef(err));
    Py_XSETREF(path_segment, Py_NewRef(seg));
    Py_XSETREF(TYPE_KEY, Py_NewRef(tk));
    Py_XSETREF(VALUE_KEY, Py_NewRef(vk));
    Py_XSETREF(UUID_TYPE, Py_NewRef(uuid_type));
    Py_XSETREF(SAFE_UNKNOWN, Py_NewRef(safe));
    Py_XSETREF(FROMISOFORMAT, Py_NewRef(fromiso));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS, "Hand the module datason's constants and classes."},
    {"plain_native", plain_native, METH_VARARGS, "plain_native(obj, max_depth, max_size, max_str) -> bool"},
    {NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "datason._speedups", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m;
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    if (PyType_Ready(&WalkerType) < 0 || PyType_Ready(&ReviverType) < 0) return NULL;
    TAG_UUID = PyUnicode_InternFromString("uuid.UUID");
    TAG_DATETIME = PyUnicode_InternFromString("datetime");
    STR_INT = PyUnicode_InternFromString("int");
    STR_IS_SAFE = PyUnicode_InternFromString("is_safe");
    STR_ISOFORMAT = PyUnicode_InternFromString("isoformat");
    INT_LIMIT = PyLong_FromUnsignedLongLong(0xFFFFFFFFFFFFFFFFULL);
    if (INT_LIMIT != NULL) {
        PyObject *one = PyLong_FromLong(1);
        PyObject *lim = one ? PyNumber_Add(INT_LIMIT, one) : NULL;
        Py_XDECREF(one);
        Py_SETREF(INT_LIMIT, lim);
    }
    if (!TAG_UUID || !TAG_DATETIME || !STR_INT || !STR_IS_SAFE || !STR_ISOFORMAT || !INT_LIMIT) return NULL;
    m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&WalkerType) < 0 ||
        PyModule_AddObjectRef(m, "Reviver", (PyObject *)&ReviverType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
