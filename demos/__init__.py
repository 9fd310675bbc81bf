"""Runnable demos of the seed's examples on graphgrad: shopping bills, gradient check, MNIST training."""
