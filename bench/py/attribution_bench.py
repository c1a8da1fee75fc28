"""Attribution with captum (PyPI) on torchvision's VGG16 with random weights, as a user
would: decode each PNG, resize to 224, ImageNet normalisation, batches of --batch, the
top-1 class of each image, one --method (the same settings as
bench/configs/attribution_vgg16.yaml). Prints images/s (decode included) and peak RSS
as JSON. `--threads 0` keeps torch's default (all cores)."""
import argparse, glob, json, resource, time
import numpy as np
import torch
from PIL import Image
from captum.attr import (GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients, NoiseTunnel,
                         Occlusion, Saliency)
import nets


def make(method, model):
    if method == "saliency":
        return lambda x, t: Saliency(model).attribute(x, target=t, abs=True)
    if method == "gradient_x_input":
        return lambda x, t: InputXGradient(model).attribute(x, target=t)
    if method == "integrated_gradients":  # 16 steps in passes of 16 inputs, as vizrun's budget
        return lambda x, t: IntegratedGradients(model).attribute(x, target=t, n_steps=16, method="gausslegendre",
                                                                internal_batch_size=16)
    if method == "smoothgrad":
        return lambda x, t: NoiseTunnel(Saliency(model)).attribute(x, target=t, nt_type="smoothgrad", nt_samples=8,
                                                                   stdevs=0.15, nt_samples_batch_size=2, abs=True)
    if method == "guided_backprop":
        return lambda x, t: GuidedBackprop(model).attribute(x, target=t)
    if method == "guided_gradcam":
        return lambda x, t: GuidedGradCam(model, model.features[28]).attribute(x, target=t)
    if method == "occlusion":
        return lambda x, t: Occlusion(model).attribute(x, target=t, sliding_window_shapes=(3, 56, 56),
                                                      strides=(3, 28, 28), baselines=0, perturbations_per_eval=16)
    raise SystemExit("unknown method " + method)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--method", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    paths = sorted(glob.glob(a.images))
    model = nets.vgg16_features(0)
    for m in model.modules():  # captum's guided backprop needs ReLUs that are not in-place
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    attribute = make(a.method, model)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    t0 = time.perf_counter()
    for i in range(0, len(paths), a.batch):
        imgs = [np.asarray(Image.open(p).convert("RGB").resize((224, 224)), np.float32) / 255 for p in paths[i:i + a.batch]]
        x = torch.from_numpy(np.stack([(im - mean) / std for im in imgs])).permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            target = model(x).argmax(1)
        maps = attribute(x, target)
        assert maps.shape == x.shape
    sec = time.perf_counter() - t0
    print(json.dumps({"method": a.method, "images": len(paths), "seconds": sec, "rate": len(paths) / sec,
                      "threads": torch.get_num_threads(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


if __name__ == "__main__":
    main()
