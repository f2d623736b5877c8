"""Classic network architectures, written out in PyTorch (no torchvision needed).

The full-size layouts follow the papers, and torchvision's versions where those are the reference
everyone quotes; their parameter counts are held to the published ones in the tests. Beside each
sits a small version for 32x32 colour images that trains in seconds on a CPU. Every model is built
with random weights: the book never downloads pretrained ones.

- :mod:`~dlbook.nets.lenet`: LeNet-5, as published and with modern parts;
- :mod:`~dlbook.nets.alexnet_vgg`: AlexNet, VGG-16, VGG blocks and their small versions;
- :mod:`~dlbook.nets.resnet`: residual blocks, ResNet-50, small ResNets and their plain twins;
- :mod:`~dlbook.nets.inception`: the Inception block and a small Inception network;
- :mod:`~dlbook.nets.summarize`: :func:`summary`, a table of output shapes, parameters,
  multiply-adds and receptive fields for any of them.
"""

from dlbook.nets import alexnet_vgg, common, inception, lenet, resnet, summarize
from dlbook.nets.alexnet_vgg import *  # noqa: F403
from dlbook.nets.common import *  # noqa: F403
from dlbook.nets.inception import *  # noqa: F403
from dlbook.nets.lenet import *  # noqa: F403
from dlbook.nets.resnet import *  # noqa: F403
from dlbook.nets.summarize import *  # noqa: F403

__all__ = [
    *common.__all__,
    *lenet.__all__,
    *alexnet_vgg.__all__,
    *resnet.__all__,
    *inception.__all__,
    *summarize.__all__,
]
