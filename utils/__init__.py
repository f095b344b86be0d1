"""Data, masks, pruning, training and reporting: the concepts of the paper, one module each."""
import warnings

# fastNLP 0.x imports pkg_resources (hence setuptools<81); its deprecation warning says nothing to our users.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
