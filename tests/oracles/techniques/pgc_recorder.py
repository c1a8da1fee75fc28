"""Shared by the CAM oracles: pytorch-grad-cam 1.5.7's methods by vizrun's names, and a
recorder of each method's map before the resize. Importing it wraps
pytorch_grad_cam.base_cam.scale_cam_image; `recorded` then holds, per call of a CAM, the
ReLU'd, unscaled map of each target layer (the per-layer call is the one given a target size)."""
import numpy as np
import pytorch_grad_cam.base_cam as base_cam
from pytorch_grad_cam import (GradCAM, GradCAMPlusPlus, XGradCAM, HiResCAM, LayerCAM, EigenCAM,
                              EigenGradCAM, ScoreCAM, AblationCAM)

METHODS = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "xgradcam": XGradCAM, "hirescam": HiResCAM,
           "layercam": LayerCAM, "eigencam": EigenCAM, "eigengradcam": EigenGradCAM, "scorecam": ScoreCAM,
           "ablationcam": AblationCAM}

recorded = []
_original_scale = base_cam.scale_cam_image


def _recording_scale(cam, target_size=None):
    if target_size is not None:
        recorded.append(np.array(cam, np.float32))
    return _original_scale(cam, target_size)


base_cam.scale_cam_image = _recording_scale


def slug(method):
    return method.replace("+", "p")
