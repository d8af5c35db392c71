// FastText (skip-gram and CBOW with negative sampling over words and their
// character n-grams, Bojanowski et al. 2017): the contract of the CPU kernel
// (csrc/cpu/fasttext.cpp) and its CUDA twin (csrc/cuda/fasttext.cu), with
// FastTextParams the one parameter struct. Arrays belong to the caller (numpy
// on the CPU, torch or CuPy on the GPU).
//
// A word's input vector is the mean of its subword rows: its own row and the
// rows of its n-grams (fasttext_ngrams.h), all in one input matrix of
// vocab_size + bucket rows (word w is row w, an n-gram with hash h is row
// vocab_size + h % bucket: fastText's layout, so its .bin files map 1:1).
// Every update adds the whole gradient to each of those rows (fastText does
// not scale it by their number), so the mean moves by the gradient, as a
// word2vec input row would.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "embforge/corpus_view.h"
#include "embforge/progress.h"
#include "embforge/word2vec.h"

namespace embforge {

struct FastTextParams {
  int vector_size = 100;
  int window = 5;            // maximum distance between center and context
  int negative = 5;          // noise words per positive pair
  bool skip_gram = true;     // false: CBOW over the bag of the contexts' subword rows
  bool shrink_windows = true;
  float alpha_start = 0.025f;  // learning rate at the start of this call ...
  float alpha_end = 0.025f;    // ... and at its end (linear in between)
  uint64_t seed = 1;
  int epoch = 0;             // mixed into the seed: each epoch draws anew
  int workers = 1;           // CPU threads
  int min_n = 3;             // n-gram lengths in characters, "<" and ">" included
  int max_n = 6;
  int64_t bucket = 2000000;  // n-gram rows
};

// Subword rows of each vocabulary word: the word's own row, then its n-grams'
// rows (duplicates kept: a repeated n-gram weighs twice in the mean, as in
// fastText). CSR: word w's rows are ids[offsets[w], offsets[w + 1]).
struct Subwords {
  std::vector<int64_t> offsets;
  std::vector<uint32_t> ids;
};

struct FastTextModel {
  float* input = nullptr;   // [vocab_size + bucket, vector_size]
  float* output = nullptr;  // [vocab_size, vector_size] (syn1neg)
  int64_t vocab_size = 0;
  int64_t bucket = 0;
  const int64_t* subword_offsets = nullptr;  // [vocab_size + 1]
  const uint32_t* subword_ids = nullptr;     // rows of input
  const uint32_t* keep_threshold = nullptr;  // subsampling (w2v::keep_word)
  const uint32_t* noise_keep = nullptr;      // alias table of unigram^ns_exponent
  const uint32_t* noise_alias = nullptr;
};

// The subword rows of `words` (UTF-8) for a model of words.size() words.
Subwords fasttext_subwords(const std::vector<std::string>& words, int min_n, int max_n,
                           int64_t bucket);

// One pass over the corpus with `workers` Hogwild threads over chunks in a
// fresh random order per epoch (as train_word2vec_epoch, without slices).
// Both models score bags of subword rows against the centre's output row and
// `negative` noise words drawn once per window: CBOW the mean of all the
// contexts' subword rows, skip-gram each context's mean in turn (word2vec's
// orientation with the noise words shared by the window, as Word2Vec's
// skip-gram). Each context word's bag is summed once per occurrence and its
// rows updated when it leaves the window (fasttext_sentence below; with
// several workers, the 64 most frequent words' rows live in thread-private
// copies merged every few thousand words, as word2vec's hot rows). The CUDA
// kernel trains fastText's own orientation (the centre's bag against each
// context, with noise words per context: fasttext_window_update's math):
// the same pairs and number of terms.
EpochStats train_fasttext_epoch(const FastTextParams& params, const CorpusView& corpus,
                                const FastTextModel& model, Progress* progress);

// One window of fastText's math, as the CUDA kernel does it, for tests
// against a plain implementation: the hidden vector is the mean of all
// subword rows of inputs[0, n_inputs) (skip-gram: the center alone; CBOW: the
// contexts); targets holds n_sets rows of 1 + negative ids (the positive
// first). Set after set, every dot product of the set is taken first, then
// target after target the gradient takes the target's row and the row moves
// by g * hidden (a noise draw equal to the set's positive is skipped); the
// summed gradient is finally added to every subword row. Returns the
// window's loss. A CPU CBOW window on bags without shared rows is this with
// one set (fasttext_sentence).
double fasttext_window_update(const FastTextParams& params, const FastTextModel& model,
                              const uint32_t* inputs, int n_inputs, const uint32_t* targets,
                              int n_sets, float alpha);

// Skip-gram (params.skip_gram) or CBOW over one sentence exactly as the CPU
// epoch loop does it, for tests against a plain implementation: each context
// word's bag is summed once per occurrence and its rows get their gradient
// when it leaves the window (csrc/cpu/fasttext_bags.h, fasttext_cbow.h and
// fasttext_skipgram.h state the math). reaches[pos] is the window's reach
// around pos (1..window); noise holds n rows of `negative` noise words, row
// pos for the centre at pos. Returns the sentence's loss.
double fasttext_sentence(const FastTextParams& params, const FastTextModel& model,
                         const uint32_t* words, int n, const int* reaches, const uint32_t* noise,
                         float alpha);

// out[w] = the mean of word w's subword rows, for w in [0, vocab_size).
void fasttext_word_vectors(const FastTextModel& model, int dim, float* out, int workers);

namespace cuda {

// Trains on stream positions [begin, end) of a corpus in device memory, as
// word2vec_train_range does (an epoch is one or more calls over consecutive
// ranges; the learning rate runs from alpha_start at position 0 to alpha_end
// at corpus.n_ids; params.workers is ignored); every model array is a device
// pointer, the subword lists included. Adds the loss to loss[0] and the loss
// terms and words trained to counts[0] and counts[1]. Limits: window <= 1024
// and a scratch of (3 + negative) rows of vector_size floats per warp that
// fits in shared memory. Reads launch.warps_per_block and span.
void fasttext_train_range(const FastTextParams& params, const CorpusView& corpus,
                          const FastTextModel& model, int64_t begin, int64_t end, double* loss,
                          unsigned long long* counts, const Launch& launch);

// input[r] for r in [0, rows): the CPU backend's FastText init (word2vec's
// init_word2vec_input times `scale`), bit for bit.
void fasttext_init_input(float* input, int64_t rows, int dim, uint64_t seed, float scale,
                         const Launch& launch);

// out[w] (device memory, rows of dim floats) = the mean of word w's subword
// rows, for w in [0, model.vocab_size); reads model.input and the subword lists.
void fasttext_word_vectors(const FastTextModel& model, int dim, float* out, const Launch& launch);

}  // namespace cuda

}  // namespace embforge
