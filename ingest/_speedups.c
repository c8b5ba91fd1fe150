/* Compiled inner loops of ingest.minhash; the pure-Python code there is the fallback
 * and the reference (tests/test_features_equivalence.py runs both).
 *
 * scan(text, limit, lead, memo) walks `text` token by token as ingest.minhash's
 * `_SPLIT` regex splits it (Unicode rules: a word is letters joined by - ' or ’, a
 * number is digits with thousands groups and a decimal part) and reads each token in
 * `memo` (raw token -> None, a number's hash, or (word, capitalised, stem hash)). It
 * stops at the `limit`-th content word. It returns what `_tokenize` builds:
 * (stem hashes, number hashes, name hashes, (words, numbers, names) read when the
 * `lead`-th content word was), or, when some tokens are not in `memo` yet, the list of
 * those tokens (the caller reads them into the memo and calls again), or None when a
 * memo value is of a shape the Python code would not accept (the caller then runs it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static inline int
is_letter(Py_UCS4 c)
{
    /* `[^\W\d_]`: alphanumeric (re's \w without `_`) and not a decimal digit */
    if (c < 128) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return Py_UNICODE_ISALNUM(c) && !Py_UNICODE_ISDECIMAL(c);
}

static inline int
is_decimal(Py_UCS4 c)
{
    if (c < 128) {
        return c >= '0' && c <= '9';
    }
    return Py_UNICODE_ISDECIMAL(c);
}

static inline int
is_space(Py_UCS4 c)
{
    return Py_UNICODE_ISSPACE(c);
}

/* `(?:^|[.!?…:]\s+|["«“]\s*|\n)$` searched in the last three characters before a word */
static int
sentence_start(int kind, const void *data, Py_ssize_t from, Py_ssize_t to)
{
    if (to - from > 3) {
        from = to - 3;
    }
    if (to == from) {
        return 1;
    }
    if (PyUnicode_READ(kind, data, to - 1) == '\n') {
        return 1;
    }
    Py_ssize_t j = to;
    while (j > from && is_space(PyUnicode_READ(kind, data, j - 1))) {
        j--;
    }
    if (j == from) {
        return 0;
    }
    Py_UCS4 c = PyUnicode_READ(kind, data, j - 1);
    if (c == '"' || c == 0x00AB || c == 0x201C) { /* " « “ then any spaces */
        return 1;
    }
    if (j < to && (c == '.' || c == '!' || c == '?' || c == 0x2026 || c == ':')) {
        return 1; /* . ! ? … : then at least one space */
    }
    return 0;
}

static Py_ssize_t
word_end(int kind, const void *data, Py_ssize_t n, Py_ssize_t pos)
{
    /* `[^\W\d_]+(?:[-'’][^\W\d_]+)*` from a letter at `pos` */
    for (;;) {
        while (pos < n && is_letter(PyUnicode_READ(kind, data, pos))) {
            pos++;
        }
        if (pos + 1 < n) {
            Py_UCS4 c = PyUnicode_READ(kind, data, pos);
            if ((c == '-' || c == '\'' || c == 0x2019) &&
                is_letter(PyUnicode_READ(kind, data, pos + 1))) {
                pos++;
                continue;
            }
        }
        return pos;
    }
}

static Py_ssize_t
number_end(int kind, const void *data, Py_ssize_t n, Py_ssize_t pos)
{
    /* `\d+(?:[.,:\s]\d{3})*(?:[.,]\d+)?` from a digit at `pos` */
    while (pos < n && is_decimal(PyUnicode_READ(kind, data, pos))) {
        pos++;
    }
    while (pos + 3 < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, pos);
        if (!(c == '.' || c == ',' || c == ':' || is_space(c))) {
            break;
        }
        if (!(is_decimal(PyUnicode_READ(kind, data, pos + 1)) &&
              is_decimal(PyUnicode_READ(kind, data, pos + 2)) &&
              is_decimal(PyUnicode_READ(kind, data, pos + 3)))) {
            break;
        }
        pos += 4;
    }
    if (pos + 1 < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, pos);
        if ((c == '.' || c == ',') && is_decimal(PyUnicode_READ(kind, data, pos + 1))) {
            pos++;
            while (pos < n && is_decimal(PyUnicode_READ(kind, data, pos))) {
                pos++;
            }
        }
    }
    return pos;
}

static PyObject *
scan(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *memo;
    Py_ssize_t limit, lead;
    if (!PyArg_ParseTuple(args, "UnnO!:scan", &text, &limit, &lead, &PyDict_Type, &memo)) {
        return NULL;
    }
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *hashes = PyList_New(0), *numbers = PyList_New(0), *names = PyList_New(0);
    PyObject *missing = NULL, *result = NULL;
    if (hashes == NULL || numbers == NULL || names == NULL) {
        goto done;
    }
    Py_ssize_t words = 0, tokens = 0, prev_end = 0, pos = 0;
    Py_ssize_t lead_numbers = -1, lead_names = -1;
    while (pos < n && words < limit) {
        Py_UCS4 c = PyUnicode_READ(kind, data, pos);
        Py_ssize_t start = pos;
        int is_word;
        if (is_letter(c)) {
            pos = word_end(kind, data, n, pos);
            is_word = 1;
        }
        else if (is_decimal(c)) {
            pos = number_end(kind, data, n, pos);
            is_word = 0;
        }
        else {
            pos++;
            continue;
        }
        Py_ssize_t sep_start = prev_end, index = tokens;
        prev_end = pos;
        tokens++;
        PyObject *tok = PyUnicode_Substring(text, start, pos);
        if (tok == NULL) {
            goto done;
        }
        PyObject *value = PyDict_GetItemWithError(memo, tok); /* borrowed */
        if (value == NULL) {
            if (PyErr_Occurred() ||
                (missing == NULL && (missing = PyList_New(0)) == NULL) ||
                PyList_Append(missing, tok) < 0) {
                Py_DECREF(tok);
                goto done;
            }
            Py_DECREF(tok);
            continue;
        }
        Py_DECREF(tok);
        if (!is_word) {
            if (!PyLong_CheckExact(value)) {
                result = Py_NewRef(Py_None);
                goto done;
            }
            if (missing == NULL && PyList_Append(numbers, value) < 0) {
                goto done;
            }
            continue;
        }
        if (value == Py_None) {
            continue; /* a stopword or a single letter */
        }
        if (!PyTuple_CheckExact(value) || PyTuple_GET_SIZE(value) != 3) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        words++;
        if (missing != NULL) {
            continue; /* only counting words now, to stop where the Python code would */
        }
        PyObject *hash = PyTuple_GET_ITEM(value, 2);
        if (PyList_Append(hashes, hash) < 0) {
            goto done;
        }
        int capitalised = PyObject_IsTrue(PyTuple_GET_ITEM(value, 1));
        if (capitalised < 0) {
            goto done;
        }
        if (capitalised) {
            /* a capitalised word is a name unless it starts a sentence; one touching
               the token before it ("abc123Def") starts none */
            int named = start == sep_start ? index != 0
                                           : !sentence_start(kind, data, sep_start, start);
            if (named && PyList_Append(names, hash) < 0) {
                goto done;
            }
        }
        if (words == lead) {
            lead_numbers = PyList_GET_SIZE(numbers);
            lead_names = PyList_GET_SIZE(names);
        }
    }
    if (missing != NULL) {
        result = Py_NewRef(missing);
        goto done;
    }
    if (lead <= 0 || lead_numbers < 0) {
        lead = PyList_GET_SIZE(hashes);
        lead_numbers = PyList_GET_SIZE(numbers);
        lead_names = PyList_GET_SIZE(names);
    }
    result = Py_BuildValue("(OOO(nnn))", hashes, numbers, names, lead, lead_numbers, lead_names);
done:
    Py_XDECREF(hashes);
    Py_XDECREF(numbers);
    Py_XDECREF(names);
    Py_XDECREF(missing);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(text, limit, lead, memo): ingest.minhash._tokenize's tokens, read in memo."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_speedups",
    .m_doc = "Compiled inner loops of ingest.minhash.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
