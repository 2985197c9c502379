"""Training: the settings, the trainer, and whole runs on each backend.

    config          TrainConfig: every training setting, its default, help and checks
    trainer         the keras.Model with the custom train_step/test_step
    run_common      what every run shares: build, resume, fit windows, model.keras and model.json
    run_folder      the --model_dir: made, locked, cleaned up after a killed or refused run
    warm_start      starting from another model: --init_from weights, --loss_ema_from EMAs
    run_tf          a whole run on TensorFlow: strategy, tf.data, tf.train.Checkpoint, TensorBoard
    run_backends    a whole run on JAX or PyTorch, no TensorFlow: PyDataset, .weights.h5 checkpoints
    callbacks       checkpoints, TensorBoard and the progress bar during fit
    checkpoints     resuming: the newest readable checkpoint of the same run
    run_lock        one trainer per --model_dir
    data            tf.data from files, globs and TFDS
    content_files   content files, decode counts, style image, PyDataset crops (no TensorFlow)

Nothing is imported here: `run_backends` must not pull TensorFlow in.
"""
