/*
 * A QEMU TCG plugin (plugin API version 1, QEMU 7.2 user mode) that counts the AArch64 instructions a
 * guest executes between markers, in total and by class. tfmfn.arm loads it; see tflite/README.md.
 *
 *   qemu-aarch64 -plugin insn_classes.so,out=COUNTS.tsv ... python3 program.py
 *
 * The guest marks a point with the system call MARKER_SYSCALL (a number no kernel defines, so it only
 * returns ENOSYS) whose first argument is a label; for each marker the plugin writes one line to
 * `out`: the label, then the running count of every class, tab separated, in the order of
 * CLASS_NAMES. Counting is inline (an add per class per translated block, no callback per
 * instruction), so counts are exact for code that runs on one thread at a time.
 *
 * Debian packages no qemu-plugin.h; the few declarations used are written below as the API defines
 * them (version 1: qemu_plugin_insn_data returns a pointer to the instruction's bytes).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                                              uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                              uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define MARKER_SYSCALL 4242

enum insn_class { TOTAL, SIMD_FP, SIMD_LOAD_STORE, SVE_SME, DOT, MMLA, N_CLASSES };
static const char *const CLASS_NAMES[N_CLASSES] = {
    "total", "simd_fp", "simd_load_store", "sve_sme", "dot", "mmla",
};

static uint64_t counts[N_CLASSES];
static FILE *out;

/* Adds the classes of one A64 encoding to `in_block` (the top-level decode of the Arm ARM, C4.1). */
static void classify(uint32_t insn, uint64_t in_block[N_CLASSES])
{
    in_block[TOTAL]++;
    if ((insn & 0x0E000000) == 0x0E000000) {        /* op0 x111: data processing, SIMD and FP */
        in_block[SIMD_FP]++;
    } else if ((insn & 0x0E000000) == 0x0C000000) { /* op0 x1x0 with V (bit 26): SIMD&FP loads/stores */
        in_block[SIMD_LOAD_STORE]++;
    } else if ((insn & 0x1E000000) == 0x04000000 || (insn & 0x9E000000) == 0x80000000) {
        in_block[SVE_SME]++;                        /* op0 0010: SVE; op0 0000 with bit 31: SME */
    }
    if ((insn & 0x9FE0F400) == 0x0E809400           /* SDOT, UDOT, USDOT (vector) */
        || (insn & 0x9F40E400) == 0x0F00E000) {     /* SDOT, UDOT, SUDOT, USDOT (by element) */
        in_block[DOT]++;
    }
    if ((insn & 0xDFE0F400) == 0x4E80A400) {         /* SMMLA, UMMLA, USMMLA */
        in_block[MMLA]++;
    }
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t in_block[N_CLASSES] = {0};
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint32_t word = 0;
        if (qemu_plugin_insn_size(insn) == sizeof word) {
            memcpy(&word, qemu_plugin_insn_data(insn), sizeof word);
        }
        classify(word, in_block);
    }
    for (int c = 0; c < N_CLASSES; c++) {
        if (in_block[c]) {
            qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counts[c], in_block[c]);
        }
    }
}

static void syscall_entered(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t label,
                            uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                            uint64_t a8)
{
    if (num != MARKER_SYSCALL) {
        return;
    }
    fprintf(out, "%" PRIu64, label);
    for (int c = 0; c < N_CLASSES; c++) {
        fprintf(out, "\t%" PRIu64, counts[c]);
    }
    fputc('\n', out);
    fflush(out);
}

static void finished(qemu_plugin_id_t id, void *userdata)
{
    fclose(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            path = argv[i] + 4;
        }
    }
    if (path == NULL || (out = fopen(path, "w")) == NULL) {
        fprintf(stderr, "insn_classes: give a writable out=FILE\n");
        return -1;
    }
    fputs("label", out);
    for (int c = 0; c < N_CLASSES; c++) {
        fprintf(out, "\t%s", CLASS_NAMES[c]);
    }
    fputc('\n', out);
    qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
    qemu_plugin_register_vcpu_syscall_cb(id, syscall_entered);
    qemu_plugin_register_atexit_cb(id, finished, NULL);
    return 0;
}
