"""Training and evaluation data for learned answer selection and abstention (issue #13).

``training.squad`` turns the SQuAD 2.0 subset in ``../shared/data`` into corpus folders the
assistant can ingest, with every question labelled answerable or not and its gold spans given as
offsets into the written files."""
