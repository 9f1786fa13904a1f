"""A TFDS builder that writes episodes as an RLDS dataset with TensorFlow Datasets' own
writer, in the layout of OpenVLA's LIBERO conversion (observation/state 8-D, action 7-D,
reward 1 on success, language_instruction per step, an agent-view image)."""
