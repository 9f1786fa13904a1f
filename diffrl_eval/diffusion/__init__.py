"""Diffusion maths shared by the RL generators and the VLAs (which never import each
other): the noise schedule, the denoising step as a Gaussian, the step embedding."""
