/* Compiled inner loops of ingest.minhash, ingest.dedup, ingest.lsh and ingest.topics;
 * the pure-Python and numpy code there is the fallback and the reference (the tests run
 * both: tests/test_features_equivalence.py, tests/test_speedups.py and the `speedups`
 * fixture). ingest/compiled.py imports this module, or gives None where it was not built.
 *
 * scan(text, limit, lead, memo, learn) walks `text` token by token as ingest.minhash's
 * `_SPLIT` regex splits it (Unicode rules: a word is letters joined by - ' or ’, a
 * number is digits with thousands groups and a decimal part) and reads each token in
 * `memo` (raw token -> None, a number's hash, or (word, capitalised, stem hash)), or,
 * for a token not in it yet, by `learn(token)`, which puts it there. It stops at the
 * `limit`-th content word. It returns what `_tokenize` builds: (stem hashes, number
 * hashes, name hashes, (words, numbers, names) read when the `lead`-th content word
 * was), or None when a reading is of a shape the Python code would not accept (the
 * caller then runs that).
 *
 * word_count(text) is len(text.split()) without building the list; ascii_words(text)
 * ingest.normalize's `normalised_words` of ASCII text, as bytes to hash.
 *
 * sorted_unique, nested_parts and nested_signatures build a copy's sorted hash sets and
 * its three nested MinHash signatures (`features`, `Features.signed`); inter_count counts
 * two copies' overlap (`dedup._inter`), similarities is the candidate screen
 * (`dedup.similarities`) whole;
 * bucket_insert is the loop of `lsh.BucketIndex.insert` over a copy's keys, run_hits and
 * pending_hits the reading of `lsh.BucketIndex.query`, band_keys the arithmetic of
 * `lsh.Bands.keys`, fill_bitmap and merge_runs a run's bitmap and a merge of two runs;
 * starts picks
 * the words `topics.Matcher.find` looks at. Arrays come and go as native uint32 (int64
 * for counts) in buffers and bytes, so numpy is not needed to build this.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

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

/* -- token tables -------------------------------------------------------------------- */

/* A token's identity is a 64-bit SipHash-1-3 of its code points under a key drawn at
 * import: the same for a token read out of a wider string as for the token as its own
 * str. Two distinct tokens share one with a chance of about n*n / 2**65 among n tokens
 * (~1e-9 each time a table fills to its 200,000-token cap), and the key keeps anyone from
 * choosing tokens that collide; a table holds the hash, not the token, so a lookup
 * costs one cache line, not the four a dict of str keys to tuples touches. */
static uint64_t sip_k0, sip_k1;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                        \
    do {                                                                                \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                        \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                          \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                          \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                        \
    } while (0)

static uint64_t
token_hash(int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    /* code points are at most 21 bits: three to a 64-bit block */
    uint64_t v0 = sip_k0 ^ 0x736f6d6570736575ULL, v1 = sip_k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = sip_k0 ^ 0x6c7967656e657261ULL, v3 = sip_k1 ^ 0x7465646279746573ULL;
    uint64_t block = 0;
    int filled = 0;
    for (Py_ssize_t i = start; i < end; i++) {
        block |= (uint64_t)PyUnicode_READ(kind, data, i) << (21 * filled);
        if (++filled == 3) {
            v3 ^= block;
            SIPROUND;
            v0 ^= block;
            block = 0;
            filled = 0;
        }
    }
    uint64_t last = block | ((uint64_t)((end - start) & 0xff) << 56); /* as SipHash ends */
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    return h ? h : 1; /* 0 marks an empty slot */
}

typedef struct {
    uint64_t hash; /* 0: empty */
    uint64_t value;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    Py_ssize_t mask; /* capacity - 1, capacity a power of two */
    Py_ssize_t used;
} TokenTable;

static Slot *
table_slot(TokenTable *t, uint64_t hash)
{
    /* the slot holding `hash`, or the empty one where it would go */
    Py_ssize_t i = (Py_ssize_t)(hash & (uint64_t)t->mask);
    while (t->slots[i].hash != 0 && t->slots[i].hash != hash) {
        i = (i + 1) & t->mask;
    }
    return &t->slots[i];
}

static int
table_put(TokenTable *t, uint64_t hash, uint64_t value)
{
    if (2 * (t->used + 1) > t->mask + 1) { /* at most half full */
        Py_ssize_t cap = 2 * (t->mask + 1);
        Slot *old = t->slots, *fresh = PyMem_Calloc(cap, sizeof(Slot));
        if (fresh == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t old_cap = t->mask + 1;
        t->slots = fresh;
        t->mask = cap - 1;
        for (Py_ssize_t i = 0; i < old_cap; i++) {
            if (old[i].hash != 0) {
                *table_slot(t, old[i].hash) = old[i];
            }
        }
        PyMem_Free(old);
    }
    Slot *slot = table_slot(t, hash);
    if (slot->hash == 0) {
        slot->hash = hash;
        t->used++;
    }
    slot->value = value;
    return 0;
}

static int
table_reset(TokenTable *t, Py_ssize_t cap)
{
    Slot *fresh = PyMem_Calloc(cap, sizeof(Slot));
    if (fresh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyMem_Free(t->slots);
    t->slots = fresh;
    t->mask = cap - 1;
    t->used = 0;
    return 0;
}

static PyObject *
table_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds != NULL && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "TokenTable() takes no arguments");
        return NULL;
    }
    TokenTable *t = (TokenTable *)type->tp_alloc(type, 0);
    if (t != NULL && table_reset(t, 1024) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

static void
table_dealloc(TokenTable *t)
{
    PyMem_Free(t->slots);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t
table_len(TokenTable *t)
{
    return t->used;
}

static uint64_t
str_hash(PyObject *s)
{
    return token_hash(PyUnicode_KIND(s), PyUnicode_DATA(s), 0, PyUnicode_GET_LENGTH(s));
}

static PyObject *
table_put_method(TokenTable *t, PyObject *args)
{
    PyObject *token, *number;
    if (!PyArg_ParseTuple(args, "UO!:put", &token, &PyLong_Type, &number)) {
        return NULL;
    }
    unsigned long long value = PyLong_AsUnsignedLongLong(number); /* checked, unlike "K" */
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (table_put(t, str_hash(token), value) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
table_get_method(TokenTable *t, PyObject *args)
{
    PyObject *token, *fallback = Py_None;
    if (!PyArg_ParseTuple(args, "U|O:get", &token, &fallback)) {
        return NULL;
    }
    Slot *slot = table_slot(t, str_hash(token));
    if (slot->hash == 0) {
        return Py_NewRef(fallback);
    }
    return PyLong_FromUnsignedLongLong(slot->value);
}

static PyObject *
table_clear_method(TokenTable *t, PyObject *Py_UNUSED(ignored))
{
    if (table_reset(t, 1024) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef table_methods[] = {
    {"put", (PyCFunction)table_put_method, METH_VARARGS,
     "put(token, value): the token now maps to value (0 .. 2**64-1)."},
    {"get", (PyCFunction)table_get_method, METH_VARARGS,
     "get(token, default=None): the value of the token, or default."},
    {"clear", (PyCFunction)table_clear_method, METH_NOARGS, "clear(): forget every token."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods table_as_sequence = {
    .sq_length = (lenfunc)table_len,
};

static PyTypeObject TokenTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ingest._speedups.TokenTable",
    .tp_doc = "Tokens (by a keyed 64-bit hash of their code points) to 64-bit values.",
    .tp_basicsize = sizeof(TokenTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = table_new,
    .tp_dealloc = (destructor)table_dealloc,
    .tp_methods = table_methods,
    .tp_as_sequence = &table_as_sequence,
};

/* a token's reading as scan keeps it in a table: the tag in the high word (0 nothing,
   1 a number's hash, 2 a word's stem hash, 3 a capitalised word's), the hash below */
enum { READ_NOTHING = 0, READ_NUMBER = 1, READ_WORD = 2, READ_CAPITALISED = 3 };

static int
reading_value(PyObject *reading, uint64_t *value)
{
    /* 1 and the packed value of a reading `learn` gave, 0 for one of another shape */
    if (reading == Py_None) {
        *value = 0;
        return 1;
    }
    PyObject *hash = reading;
    uint64_t tag = READ_NUMBER;
    if (PyTuple_CheckExact(reading)) {
        if (PyTuple_GET_SIZE(reading) != 3) {
            return 0;
        }
        int capitalised = PyObject_IsTrue(PyTuple_GET_ITEM(reading, 1));
        if (capitalised < 0) {
            return -1;
        }
        tag = capitalised ? READ_CAPITALISED : READ_WORD;
        hash = PyTuple_GET_ITEM(reading, 2);
    }
    if (!PyLong_CheckExact(hash)) {
        return 0;
    }
    unsigned long long h = PyLong_AsUnsignedLongLong(hash);
    if (h == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    if (h > 0xFFFFFFFFULL) {
        return 0;
    }
    *value = (tag << 32) | h;
    return 1;
}

static PyObject *
scan(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *learn;
    TokenTable *memo;
    Py_ssize_t limit, lead;
    if (!PyArg_ParseTuple(args, "UnnO!O:scan", &text, &limit, &lead, &TokenTableType, &memo,
                          &learn)) {
        return NULL;
    }
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *hashes = PyList_New(0), *numbers = PyList_New(0), *names = PyList_New(0);
    PyObject *result = NULL, *value = NULL;
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
        uint64_t h = token_hash(kind, data, start, pos), reading;
        Slot *slot = table_slot(memo, h);
        if (slot->hash != 0) {
            reading = slot->value;
        }
        else { /* a token not met before: Python reads it */
            PyObject *tok = PyUnicode_Substring(text, start, pos);
            if (tok == NULL) {
                goto done;
            }
            Py_CLEAR(value);
            value = PyObject_CallOneArg(learn, tok);
            Py_DECREF(tok);
            if (value == NULL) {
                goto done;
            }
            int ok = reading_value(value, &reading);
            if (ok <= 0) {
                if (ok == 0) {
                    result = Py_NewRef(Py_None);
                }
                goto done;
            }
            if (table_put(memo, h, reading) < 0) {
                goto done;
            }
        }
        uint64_t tag = reading >> 32;
        if (!is_word) {
            if (tag != READ_NUMBER) {
                result = Py_NewRef(Py_None);
                goto done;
            }
            PyObject *number = PyLong_FromUnsignedLong((unsigned long)(reading & 0xFFFFFFFFULL));
            if (number == NULL || PyList_Append(numbers, number) < 0) {
                Py_XDECREF(number);
                goto done;
            }
            Py_DECREF(number);
            continue;
        }
        if (tag == READ_NOTHING) {
            continue; /* a stopword or a single letter */
        }
        if (tag == READ_NUMBER) { /* a word read as a number: Python decides */
            result = Py_NewRef(Py_None);
            goto done;
        }
        words++;
        PyObject *hash = PyLong_FromUnsignedLong((unsigned long)(reading & 0xFFFFFFFFULL));
        if (hash == NULL || PyList_Append(hashes, hash) < 0) {
            Py_XDECREF(hash);
            goto done;
        }
        if (tag == READ_CAPITALISED) {
            /* a capitalised word is a name unless it starts a sentence; one touching
               the token before it ("abc123Def") starts none */
            int named = start == sep_start ? index != 0
                                           : !sentence_start(kind, data, sep_start, start);
            if (named && PyList_Append(names, hash) < 0) {
                Py_DECREF(hash);
                goto done;
            }
        }
        Py_DECREF(hash);
        if (words == lead) {
            lead_numbers = PyList_GET_SIZE(numbers);
            lead_names = PyList_GET_SIZE(names);
        }
    }
    if (lead <= 0 || lead_numbers < 0) {
        lead = PyList_GET_SIZE(hashes);
        lead_numbers = PyList_GET_SIZE(numbers);
        lead_names = PyList_GET_SIZE(names);
    }
    result = Py_BuildValue("(OOO(nnn))", hashes, numbers, names, lead, lead_numbers, lead_names);
done:
    Py_XDECREF(value);
    Py_XDECREF(hashes);
    Py_XDECREF(numbers);
    Py_XDECREF(names);
    return result;
}

static PyObject *
word_count(PyObject *Py_UNUSED(module), PyObject *arg)
{
    /* len(text.split()): the runs of characters that are not whitespace, counted
       without building the list (str.split's whitespace is Py_UNICODE_ISSPACE) */
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "word_count expects a str");
        return NULL;
    }
    const int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    Py_ssize_t count = 0;
    int in_word = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int space = Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i));
        count += !space && !in_word;
        in_word = !space;
    }
    return PyLong_FromSsize_t(count);
}

static PyObject *
ascii_words(PyObject *Py_UNUSED(module), PyObject *arg)
{
    /* for ASCII text, ingest.normalize's `normalised_words` as bytes and how many words it
       joined: letters lower-cased, digits kept, every run of anything else one space
       between words; None for text that is not ASCII (the Python code reads that) */
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "ascii_words expects a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(arg)) {
        Py_RETURN_NONE;
    }
    const unsigned char *data = PyUnicode_1BYTE_DATA(arg);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL) {
        return NULL;
    }
    char *w = PyBytes_AS_STRING(out);
    Py_ssize_t len = 0, words = 0;
    int in_word = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = data[i];
        if (c >= 'A' && c <= 'Z') {
            c += 32;
        }
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            in_word = 0;
            continue;
        }
        if (!in_word) {
            if (words++) {
                w[len++] = ' ';
            }
            in_word = 1;
        }
        w[len++] = (char)c;
    }
    if (_PyBytes_Resize(&out, len) < 0) {
        return NULL;
    }
    return Py_BuildValue("(Nn)", out, words);
}

/* -- sorted uint32 arrays ----------------------------------------------------------- */

static int
typed_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *codes,
             const char *what)
{
    /* a C-contiguous native-order buffer of `itemsize` bytes an item whose struct code
       is one of `codes` */
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    const char *f = view->format;
    char last = f == NULL ? 'B' : f[strlen(f) - 1];
    if (view->itemsize != itemsize || strchr(codes, last) == NULL || f[0] == '>' ||
        f[0] == '!') {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "expected a contiguous array of native %s", what);
        return -1;
    }
    return 0;
}

static int
u32_buffer(PyObject *obj, Py_buffer *view)
{
    return typed_buffer(obj, view, 4, "IL", "uint32");
}

typedef struct {
    Py_ssize_t itemsize;
    const char *codes, *what;
} BufferKind;

static const BufferKind INTP = {8, "lq", "intp"}, UINT64 = {8, "LQ", "uint64"},
                        UINT32 = {4, "IL", "uint32"}, BOOL = {1, "?", "bool"};

/* `typed_buffer` of each of `n` objects, of the kinds given; on failure none is held */
static int
typed_buffers(PyObject *const *objs, Py_buffer *views, const BufferKind *const *kinds, int n)
{
    for (int k = 0; k < n; k++) {
        if (typed_buffer(objs[k], &views[k], kinds[k]->itemsize, kinds[k]->codes,
                         kinds[k]->what) < 0) {
            while (k-- > 0) {
                PyBuffer_Release(&views[k]);
            }
            return -1;
        }
    }
    return 0;
}

/* `u32_buffer` of each of `n` objects; on failure none of them is held */
static int
u32_buffers(PyObject *const *objs, Py_buffer *views, int n)
{
    for (int k = 0; k < n; k++) {
        if (u32_buffer(objs[k], &views[k]) < 0) {
            while (k-- > 0) {
                PyBuffer_Release(&views[k]);
            }
            return -1;
        }
    }
    return 0;
}

static void
release_buffers(Py_buffer *views, int n)
{
    for (int k = 0; k < n; k++) {
        PyBuffer_Release(&views[k]);
    }
}

static int
compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static PyObject *
sorted_unique(PyObject *Py_UNUSED(module), PyObject *groups)
{
    /* each argument, a sequence of ints in 0..2**32-1, as a sorted array without
       repeats: (the arrays end to end as native uint32 bytes, their lengths) */
    Py_ssize_t ngroups = PyTuple_GET_SIZE(groups), total = 0;
    PyObject **fast = PyMem_Calloc(ngroups ? ngroups : 1, sizeof(PyObject *));
    uint32_t *values = NULL;
    PyObject *sizes = NULL, *out = NULL;
    if (fast == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t g = 0; g < ngroups; g++) {
        fast[g] = PySequence_Fast(PyTuple_GET_ITEM(groups, g), "sorted_unique takes sequences");
        if (fast[g] == NULL) {
            goto done;
        }
        total += PySequence_Fast_GET_SIZE(fast[g]);
    }
    values = PyMem_Malloc((total ? total : 1) * sizeof(uint32_t));
    sizes = PyTuple_New(ngroups);
    if (values == NULL || sizes == NULL) {
        if (values == NULL) {
            PyErr_NoMemory();
        }
        goto done;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t g = 0; g < ngroups; g++) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(fast[g]), start = at;
        PyObject **items = PySequence_Fast_ITEMS(fast[g]);
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned long v = PyLong_AsUnsignedLong(items[i]);
            if (v == (unsigned long)-1 && PyErr_Occurred()) {
                goto done;
            }
            if (v > 0xFFFFFFFFUL) {
                PyErr_SetString(PyExc_OverflowError, "value does not fit in uint32");
                goto done;
            }
            values[at++] = (uint32_t)v;
        }
        if (n > 1) {
            qsort(values + start, (size_t)n, sizeof(uint32_t), compare_u32);
            Py_ssize_t kept = start + 1;
            for (Py_ssize_t i = start + 1; i < start + n; i++) {
                if (values[i] != values[kept - 1]) {
                    values[kept++] = values[i];
                }
            }
            at = kept;
        }
        PyObject *size = PyLong_FromSsize_t(at - start);
        if (size == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(sizes, g, size);
    }
    PyObject *data = PyBytes_FromStringAndSize((const char *)values, at * (Py_ssize_t)sizeof(uint32_t));
    if (data != NULL) {
        out = PyTuple_Pack(2, data, sizes);
        Py_DECREF(data);
    }
done:
    for (Py_ssize_t g = 0; g < ngroups; g++) {
        Py_XDECREF(fast[g]);
    }
    PyMem_Free(fast);
    PyMem_Free(values);
    Py_XDECREF(sizes);
    return out;
}

static PyObject *
nested_parts(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* three sorted unique arrays, inner <= middle <= outer: the values of inner, then
       those middle adds, then those outer adds (`_nested_parts`), as native uint32 bytes,
       and the three counts */
    PyObject *objs[3];
    Py_buffer views[3];
    PyObject *out = NULL;
    uint32_t *values = NULL;
    if (!PyArg_ParseTuple(args, "OOO:nested_parts", &objs[0], &objs[1], &objs[2]) ||
        u32_buffers(objs, views, 3) < 0) {
        return NULL;
    }
    Py_ssize_t total = 0, counts[3];
    for (int k = 0; k < 3; k++) {
        total += views[k].len / 4;
    }
    values = PyMem_Malloc((total ? total : 1) * sizeof(uint32_t));
    if (values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t at = 0;
    for (int k = 0; k < 3; k++) {
        const uint32_t *cur = views[k].buf;
        Py_ssize_t n = views[k].len / 4, start = at;
        const uint32_t *prev = k ? views[k - 1].buf : NULL;
        Py_ssize_t m = k ? views[k - 1].len / 4 : 0, j = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            while (j < m && prev[j] < cur[i]) {
                j++;
            }
            if (j < m && prev[j] == cur[i]) {
                continue;
            }
            values[at++] = cur[i];
        }
        counts[k] = at - start;
    }
    out = Py_BuildValue("(y#(nnn))", (const char *)values, at * (Py_ssize_t)sizeof(uint32_t),
                        counts[0], counts[1], counts[2]);
done:
    release_buffers(views, 3);
    PyMem_Free(values);
    return out;
}

static inline uint32_t
fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6BU;
    h ^= h >> 13;
    h *= 0xC2B2AE35U;
    return h ^ (h >> 16);
}

static PyObject *
nested_signatures(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* `_nested_signatures`: the MinHash (a * fmix32(h) + b mod 2**32, minimum over the
       set) of the three nested sets `nested_parts` describes, as native uint32 bytes */
    PyObject *objs[3]; /* values, a, b */
    Py_ssize_t sizes[3];
    Py_buffer views[3];
    if (!PyArg_ParseTuple(args, "O(nnn)OO:nested_signatures", &objs[0], &sizes[0], &sizes[1],
                          &sizes[2], &objs[1], &objs[2]) ||
        u32_buffers(objs, views, 3) < 0) {
        return NULL;
    }
    Py_buffer v = views[0], a = views[1], b = views[2];
    PyObject *out = NULL;
    Py_ssize_t width = a.len / 4;
    if (b.len != a.len || sizes[0] < 0 || sizes[1] < 0 || sizes[2] < 0 ||
        sizes[0] + sizes[1] + sizes[2] != v.len / 4) {
        PyErr_SetString(PyExc_ValueError, "sizes do not match the values or permutations");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, 3 * width * (Py_ssize_t)sizeof(uint32_t));
    if (out == NULL) {
        goto done;
    }
    uint32_t *sig = (uint32_t *)PyBytes_AS_STRING(out);
    const uint32_t *pa = a.buf, *pb = b.buf, *pv = v.buf;
    for (Py_ssize_t j = 0; j < width; j++) {
        sig[j] = 0xFFFFFFFFU;
    }
    Py_ssize_t at = 0;
    for (int k = 0; k < 3; k++) {
        uint32_t *row = sig + k * width;
        if (k) {
            memcpy(row, row - width, (size_t)width * sizeof(uint32_t));
        }
        for (Py_ssize_t i = 0; i < sizes[k]; i++, at++) {
            uint32_t h = fmix32(pv[at]);
            for (Py_ssize_t j = 0; j < width; j++) {
                uint32_t x = pa[j] * h + pb[j];
                row[j] = x < row[j] ? x : row[j];
            }
        }
    }
done:
    release_buffers(views, 3);
    return out;
}

static Py_ssize_t
merge_count(const uint32_t *x, Py_ssize_t len, const uint32_t *r, Py_ssize_t m)
{
    Py_ssize_t i = 0, j = 0, hits = 0;
    while (i < len && j < m) {
        if (x[i] < r[j]) {
            i++;
        }
        else if (x[i] > r[j]) {
            j++;
        }
        else {
            hits++;
            i++;
            j++;
        }
    }
    return hits;
}

static PyObject *
inter_count(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* how many values two sorted unique arrays share (`dedup._inter`) */
    PyObject *objs[2];
    Py_buffer views[2];
    if (!PyArg_ParseTuple(args, "OO:inter_count", &objs[0], &objs[1]) ||
        u32_buffers(objs, views, 2) < 0) {
        return NULL;
    }
    Py_ssize_t hits = merge_count(views[0].buf, views[0].len / 4, views[1].buf, views[1].len / 4);
    release_buffers(views, 2);
    return PyLong_FromSsize_t(hits);
}

static PyObject *attr_words, *attr_lead, *attr_title, *attr_length;

typedef struct {
    Py_buffer words, lead, title;
    Py_ssize_t length;
    int held;
} Copy;

static void
copy_release(Copy *c)
{
    Py_buffer *views[3] = {&c->words, &c->lead, &c->title};
    for (int k = 0; k < c->held; k++) {
        PyBuffer_Release(views[k]);
    }
    c->held = 0;
}

static int
copy_read(PyObject *features, Copy *c)
{
    /* the arrays and the length `similarities` reads of a `minhash.Features` */
    PyObject *names[3] = {attr_words, attr_lead, attr_title};
    Py_buffer *views[3] = {&c->words, &c->lead, &c->title};
    c->held = 0;
    for (int k = 0; k < 3; k++) {
        PyObject *array = PyObject_GetAttr(features, names[k]);
        int bad = array == NULL || u32_buffer(array, views[k]) < 0;
        Py_XDECREF(array); /* the buffer holds the array */
        if (bad) {
            copy_release(c);
            return -1;
        }
        c->held++;
    }
    PyObject *length = PyObject_GetAttr(features, attr_length);
    c->length = length == NULL ? -1 : PyLong_AsSsize_t(length);
    Py_XDECREF(length);
    if (c->length == -1 && PyErr_Occurred()) {
        copy_release(c);
        return -1;
    }
    return 0;
}

static inline double
jaccard_of(Py_ssize_t i, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t u = a + b - i;
    return u > 0 ? (double)i / (double)u : 0.0;
}

static PyObject *
similarities(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* `dedup.similarities`, the same arithmetic in doubles (test_dedup holds it to
       `compare` to the last bit): for each of `others`, the best of the words' and the
       leads' Jaccard, the containment of the shorter text and, for a headline, the
       titles' Jaccard; native float64 bytes */
    PyObject *f, *others;
    Py_ssize_t min_containment_words, short_text_words, min_title_words;
    double containment_min, title_min;
    if (!PyArg_ParseTuple(args, "OO!ndnnd:similarities", &f, &PyList_Type, &others,
                          &min_containment_words, &containment_min, &short_text_words,
                          &min_title_words, &title_min)) {
        return NULL;
    }
    Copy a;
    if (copy_read(f, &a) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(others);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    if (out == NULL) {
        copy_release(&a);
        return NULL;
    }
    double *best = (double *)PyBytes_AS_STRING(out);
    const uint32_t *aw = a.words.buf, *al = a.lead.buf, *at = a.title.buf;
    Py_ssize_t naw = a.words.len / 4, nal = a.lead.len / 4, nat = a.title.len / 4;
    for (Py_ssize_t k = 0; k < n; k++) {
        Copy b;
        if (copy_read(PyList_GET_ITEM(others, k), &b) < 0) {
            Py_CLEAR(out);
            break;
        }
        Py_ssize_t nbw = b.words.len / 4, nbl = b.lead.len / 4, nbt = b.title.len / 4;
        Py_ssize_t i_words = merge_count(aw, naw, b.words.buf, nbw);
        double score = jaccard_of(i_words, naw, nbw);
        double lead = jaccard_of(merge_count(al, nal, b.lead.buf, nbl), nal, nbl);
        score = lead > score ? lead : score;
        Py_ssize_t small = naw < nbw ? naw : nbw;
        if (small >= min_containment_words) {
            double contained = (double)i_words / (double)small;
            if (contained >= containment_min && contained > score) {
                score = contained;
            }
        }
        Py_ssize_t shorter = a.length < b.length ? a.length : b.length;
        Py_ssize_t titles = nat < nbt ? nat : nbt;
        if (shorter < short_text_words && titles >= min_title_words) {
            double title = jaccard_of(merge_count(at, nat, b.title.buf, nbt), nat, nbt);
            if (title >= title_min && title > score) {
                score = title;
            }
        }
        best[k] = score;
        copy_release(&b);
    }
    copy_release(&a);
    return out;
}

/* -- LSH buckets ---------------------------------------------------------------------- */

static PyObject *
bucket_insert(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* `BucketIndex.insert`'s loop over a copy's keys: `pending` maps a key to its oldest
       pending copy, `later` to the later ones; `in_runs` (None: none) counts each key's
       pairs in the sorted runs; a bucket about to hold `keep` copies first has
       `make_room(key)` called, as the Python loop does */
    PyObject *pending, *later, *keys, *in_runs, *entry, *make_room;
    Py_ssize_t keep;
    if (!PyArg_ParseTuple(args, "O!O!O!OOnO:bucket_insert", &PyDict_Type, &pending, &PyDict_Type,
                          &later, &PyList_Type, &keys, &in_runs, &entry, &keep, &make_room)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (in_runs != Py_None && (!PyList_Check(in_runs) || PyList_GET_SIZE(in_runs) != n)) {
        PyErr_SetString(PyExc_TypeError, "in_runs must be None or a list as long as keys");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t runs = 0;
        if (in_runs != Py_None) {
            runs = PyLong_AsSsize_t(PyList_GET_ITEM(in_runs, i));
            if (runs == -1 && PyErr_Occurred()) {
                return NULL;
            }
        }
        PyObject *k = Py_NewRef(PyList_GET_ITEM(keys, i));
        PyObject *first = PyDict_GetItemWithError(pending, k);
        int ok = 0;
        if (first == NULL) {
            if (PyErr_Occurred()) {
                goto next;
            }
            if (runs >= keep) {
                PyObject *r = PyObject_CallOneArg(make_room, k);
                if (r == NULL) {
                    goto next;
                }
                Py_DECREF(r);
            }
            ok = PyDict_SetItem(pending, k, entry) == 0;
            goto next;
        }
        PyObject *more = PyDict_GetItemWithError(later, k); /* borrowed */
        if (more == NULL && PyErr_Occurred()) {
            goto next;
        }
        if (more != NULL && !PyList_Check(more)) {
            PyErr_SetString(PyExc_TypeError, "later must map keys to lists");
            goto next;
        }
        if (runs + 1 + (more ? PyList_GET_SIZE(more) : 0) >= keep) {
            PyObject *r = PyObject_CallOneArg(make_room, k);
            if (r == NULL) {
                goto next;
            }
            Py_DECREF(r);
            int held = PyDict_Contains(pending, k);
            if (held < 0) {
                goto next;
            }
            if (!held) { /* the pending copy it held left */
                ok = PyDict_SetItem(pending, k, entry) == 0;
                goto next;
            }
            more = PyDict_GetItemWithError(later, k);
            if (more == NULL && PyErr_Occurred()) {
                goto next;
            }
        }
        if (more == NULL) {
            PyObject *one = PyList_New(1);
            if (one == NULL) {
                goto next;
            }
            PyList_SET_ITEM(one, 0, Py_NewRef(entry));
            ok = PyDict_SetItem(later, k, one) == 0;
            Py_DECREF(one);
        }
        else {
            ok = PyList_Append(more, entry) == 0;
        }
    next:
        Py_DECREF(k);
        if (!ok) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
run_hits(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* what `BucketIndex.query` reads from a sorted run: for each j, the ids at positions
       lo[j] .. hi[j] - 1 (intp arrays), those `live` (bool array; None: all) and not in
       `dead` (a set; None: none), appended to `found` in that order */
    PyObject *objs[4], *dead, *found;
    if (!PyArg_ParseTuple(args, "OOOOOO!:run_hits", &objs[0], &objs[1], &objs[2], &objs[3],
                          &dead, &PyList_Type, &found)) {
        return NULL;
    }
    if (dead != Py_None && !PyAnySet_Check(dead)) {
        PyErr_SetString(PyExc_TypeError, "dead must be a set or None");
        return NULL;
    }
    Py_buffer v[4];
    const BufferKind *kinds[4] = {&INTP, &INTP, &UINT32, &BOOL};
    int held = objs[3] == Py_None ? 3 : 4;
    PyObject *result = NULL;
    if (typed_buffers(objs, v, kinds, held) < 0) {
        return NULL;
    }
    const int64_t *lo = v[0].buf, *hi = v[1].buf;
    const uint32_t *ids = v[2].buf;
    const char *live = held == 4 ? v[3].buf : NULL;
    Py_ssize_t n = v[0].len / 8, size = v[2].len / 4;
    if (v[1].len / 8 != n || (live != NULL && v[3].len != size)) {
        PyErr_SetString(PyExc_ValueError, "lo and hi, and ids and live, must be as long");
        goto done;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        if (lo[j] < 0 || hi[j] > size) {
            PyErr_SetString(PyExc_ValueError, "a range lies outside the run");
            goto done;
        }
        for (int64_t p = lo[j]; p < hi[j]; p++) {
            if (live != NULL && !live[p]) {
                continue;
            }
            PyObject *id = PyLong_FromUnsignedLong(ids[p]);
            if (id == NULL) {
                goto done;
            }
            int skip = dead == Py_None ? 0 : PySet_Contains(dead, id);
            if (skip < 0 || (!skip && PyList_Append(found, id) < 0)) {
                Py_DECREF(id);
                goto done;
            }
            Py_DECREF(id);
        }
    }
    result = Py_NewRef(Py_None);
done:
    release_buffers(v, held);
    return result;
}

static PyObject *
pending_hits(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* what `BucketIndex.query` reads from the pending inserts: for each key, its oldest
       pending copy (`pending`) and then the later ones (`later`), appended to `found` */
    PyObject *pending, *later, *keys, *found;
    if (!PyArg_ParseTuple(args, "O!O!O!O!:pending_hits", &PyDict_Type, &pending, &PyDict_Type,
                          &later, &PyList_Type, &keys, &PyList_Type, &found)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        PyObject *first = PyDict_GetItemWithError(pending, k); /* borrowed */
        if (first == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            continue;
        }
        if (PyList_Append(found, first) < 0) {
            return NULL;
        }
        PyObject *more = PyDict_GetItemWithError(later, k);
        if (more == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            continue;
        }
        if (!PyList_Check(more)) {
            PyErr_SetString(PyExc_TypeError, "later must map keys to lists");
            return NULL;
        }
        Py_ssize_t end = PyList_GET_SIZE(found);
        if (PyList_SetSlice(found, end, end, more) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
band_keys(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* `lsh.Bands.keys`'s arithmetic: for each band b, salt[b] + the sum over r of
       value(gather[b][r]) * coefficients[b][r] modulo 2**64, where value(g) is element g
       of the signatures laid end to end (`width` values each) and 0 past their end;
       `gather` (intp) and `coefficients` (uint64) have `rows` columns. Native uint64
       bytes. */
    PyObject *signatures, *objs[3];
    Py_ssize_t width, rows;
    if (!PyArg_ParseTuple(args, "O!nOOOn:band_keys", &PyTuple_Type, &signatures, &width, &objs[0],
                          &objs[1], &objs[2], &rows)) {
        return NULL;
    }
    Py_ssize_t nsig = PyTuple_GET_SIZE(signatures);
    if (nsig > 8 || width <= 0 || rows <= 0) {
        PyErr_SetString(PyExc_ValueError, "band_keys takes up to 8 signatures, width and rows > 0");
        return NULL;
    }
    Py_buffer sig[8], v[3];
    int held_sig = 0, held = 0;
    PyObject *out = NULL;
    for (; held_sig < nsig; held_sig++) {
        if (u32_buffer(PyTuple_GET_ITEM(signatures, held_sig), &sig[held_sig]) < 0) {
            goto done;
        }
        if (sig[held_sig].len != width * 4) {
            held_sig++;
            PyErr_SetString(PyExc_ValueError, "each signature must hold `width` values");
            goto done;
        }
    }
    const BufferKind *kinds[3] = {&INTP, &UINT64, &UINT64};
    if (typed_buffers(objs, v, kinds, 3) < 0) {
        goto done;
    }
    held = 3;
    Py_ssize_t bands = v[2].len / 8;
    if (v[0].len != bands * rows * 8 || v[1].len != bands * rows * 8) {
        PyErr_SetString(PyExc_ValueError, "gather and coefficients must have a row per band");
        goto done;
    }
    const int64_t *gather = v[0].buf;
    const uint64_t *coefficients = v[1].buf, *salt = v[2].buf;
    out = PyBytes_FromStringAndSize(NULL, bands * 8);
    if (out == NULL) {
        goto done;
    }
    uint64_t *keys = (uint64_t *)PyBytes_AS_STRING(out);
    const Py_ssize_t end = nsig * width;
    for (Py_ssize_t b = 0; b < bands; b++) {
        uint64_t h = salt[b];
        for (Py_ssize_t r = 0; r < rows; r++) {
            int64_t g = gather[b * rows + r];
            if (g < 0 || g > end) {
                Py_CLEAR(out);
                PyErr_SetString(PyExc_ValueError, "gather points past the signatures");
                goto done;
            }
            uint64_t value = g == end ? 0 : ((const uint32_t *)sig[g / width].buf)[g % width];
            h += value * coefficients[b * rows + r];
        }
        keys[b] = h;
    }
done:
    release_buffers(sig, held_sig);
    release_buffers(v, held);
    return out;
}

static PyObject *
fill_bitmap(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* `lsh._Run`'s bitmap: for each of the uint64 `keys`, the bit (key >> shift) of
       `bits` (a writable uint8 array) set */
    PyObject *objs[2];
    unsigned int shift;
    if (!PyArg_ParseTuple(args, "OIO:fill_bitmap", &objs[0], &shift, &objs[1])) {
        return NULL;
    }
    if (shift > 63) {
        PyErr_SetString(PyExc_ValueError, "shift must be 0..63");
        return NULL;
    }
    Py_buffer keys, bits;
    if (typed_buffer(objs[0], &keys, 8, "LQ", "uint64") < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(objs[1], &bits, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&keys);
        return NULL;
    }
    const uint64_t *k = keys.buf;
    unsigned char *b = bits.buf;
    Py_ssize_t n = keys.len / 8;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t slot = k[i] >> shift;
        if ((Py_ssize_t)(slot >> 3) >= bits.len) {
            PyErr_SetString(PyExc_ValueError, "a key's bit lies past the bitmap");
            goto done;
        }
        b[slot >> 3] |= (unsigned char)(1u << (slot & 7));
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&bits);
    return result;
}

static PyObject *
merge_runs(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* `lsh.BucketIndex._merge`'s arrays: two runs of (uint64 key, uint32 id) sorted by
       key merged into one, the old pairs of a key before the new; (keys, ids) as native
       bytes */
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO:merge_runs", &objs[0], &objs[1], &objs[2], &objs[3])) {
        return NULL;
    }
    Py_buffer v[4];
    const BufferKind *kinds[4] = {&UINT64, &UINT32, &UINT64, &UINT32};
    PyObject *keys = NULL, *ids = NULL, *result = NULL;
    if (typed_buffers(objs, v, kinds, 4) < 0) {
        return NULL;
    }
    int held = 4;
    Py_ssize_t na = v[0].len / 8, nb = v[2].len / 8;
    if (v[1].len / 4 != na || v[3].len / 4 != nb) {
        PyErr_SetString(PyExc_ValueError, "each run needs an id per key");
        goto done;
    }
    keys = PyBytes_FromStringAndSize(NULL, (na + nb) * 8);
    ids = PyBytes_FromStringAndSize(NULL, (na + nb) * 4);
    if (keys == NULL || ids == NULL) {
        goto done;
    }
    const uint64_t *ka = v[0].buf, *kb = v[2].buf;
    const uint32_t *ia = v[1].buf, *ib = v[3].buf;
    uint64_t *ko = (uint64_t *)PyBytes_AS_STRING(keys);
    uint32_t *io = (uint32_t *)PyBytes_AS_STRING(ids);
    Py_ssize_t a = 0, b = 0, o = 0;
    while (a < na && b < nb) {
        if (kb[b] < ka[a]) {
            ko[o] = kb[b];
            io[o++] = ib[b++];
        }
        else {
            ko[o] = ka[a];
            io[o++] = ia[a++];
        }
    }
    for (; a < na; a++, o++) {
        ko[o] = ka[a];
        io[o] = ia[a];
    }
    for (; b < nb; b++, o++) {
        ko[o] = kb[b];
        io[o] = ib[b];
    }
    result = PyTuple_Pack(2, keys, ids);
done:
    release_buffers(v, held);
    Py_XDECREF(keys);
    Py_XDECREF(ids);
    return result;
}

/* -- topic phrases -------------------------------------------------------------------- */

static PyObject *
starts(PyObject *Py_UNUSED(module), PyObject *args)
{
    /* the positions in `tokens` worth a look by `Matcher.find`: those not in `known`,
       the table of the words known to start no phrase */
    PyObject *tokens;
    TokenTable *known;
    if (!PyArg_ParseTuple(args, "O!O!:starts", &PyList_Type, &tokens, &TokenTableType, &known)) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(tokens);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tok = PyList_GET_ITEM(tokens, i);
        if (!PyUnicode_Check(tok)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "tokens must be str");
            return NULL;
        }
        if (table_slot(known, str_hash(tok))->hash != 0) {
            continue;
        }
        PyObject *at = PyLong_FromSsize_t(i);
        if (at == NULL || PyList_Append(out, at) < 0) {
            Py_XDECREF(at);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(at);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(text, limit, lead, table, learn): ingest.minhash._tokenize's tokens."},
    {"word_count", word_count, METH_O, "word_count(text): len(text.split()) without the list."},
    {"ascii_words", ascii_words, METH_O,
     "ascii_words(text): ingest.normalize.normalised_words of ASCII text as bytes, and its count."},
    {"sorted_unique", sorted_unique, METH_VARARGS,
     "sorted_unique(*groups): each group of ints sorted without repeats, as uint32 bytes."},
    {"nested_parts", nested_parts, METH_VARARGS,
     "nested_parts(inner, middle, outer): ingest.minhash._nested_parts of sorted arrays."},
    {"nested_signatures", nested_signatures, METH_VARARGS,
     "nested_signatures(values, sizes, a, b): ingest.minhash._nested_signatures as bytes."},
    {"inter_count", inter_count, METH_VARARGS,
     "inter_count(a, b): ingest.dedup._inter, by merge."},
    {"similarities", similarities, METH_VARARGS,
     "similarities(f, others, ...): ingest.dedup.similarities, in one C loop."},
    {"bucket_insert", bucket_insert, METH_VARARGS,
     "bucket_insert(pending, later, keys, in_runs, entry, keep, make_room): the insert loop."},
    {"run_hits", run_hits, METH_VARARGS,
     "run_hits(lo, hi, ids, live, dead, found): BucketIndex.query's reading of a run."},
    {"pending_hits", pending_hits, METH_VARARGS,
     "pending_hits(pending, later, keys, found): BucketIndex.query's pending inserts."},
    {"band_keys", band_keys, METH_VARARGS,
     "band_keys(signatures, width, gather, coefficients, salt, rows): lsh.Bands.keys."},
    {"fill_bitmap", fill_bitmap, METH_VARARGS,
     "fill_bitmap(keys, shift, bits): lsh._Run's bitmap of its keys."},
    {"merge_runs", merge_runs, METH_VARARGS,
     "merge_runs(old_keys, old_ids, new_keys, new_ids): lsh.BucketIndex._merge's arrays."},
    {"starts", starts, METH_VARARGS,
     "starts(tokens, known): the positions ingest.topics.Matcher.find looks at."},
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
    /* the token hash's key, from os.urandom: tokens that collide cannot be chosen */
    PyObject *os = PyImport_ImportModule("os");
    PyObject *key = os == NULL ? NULL : PyObject_CallMethod(os, "urandom", "i", 16);
    Py_XDECREF(os);
    if (key == NULL) {
        return NULL;
    }
    memcpy(&sip_k0, PyBytes_AS_STRING(key), 8);
    memcpy(&sip_k1, PyBytes_AS_STRING(key) + 8, 8);
    Py_DECREF(key);
    if (PyType_Ready(&TokenTableType) < 0) {
        return NULL;
    }
    attr_words = PyUnicode_InternFromString("words");
    attr_lead = PyUnicode_InternFromString("lead");
    attr_title = PyUnicode_InternFromString("title");
    attr_length = PyUnicode_InternFromString("length");
    if (!attr_words || !attr_lead || !attr_title || !attr_length) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "TokenTable", (PyObject *)&TokenTableType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
