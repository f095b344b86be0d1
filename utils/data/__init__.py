"""The data of the paper's tasks: raw corpora read into tagged sentences (readers, with CoNLL and CoNLL-U blocks in
conll), the processed data set of shared word and per-task tag vocabularies, ids and the initial word-vector table
(dataset, glove), a run folder's copy of its vocabularies (snapshot), and mini-batches (batching)."""
