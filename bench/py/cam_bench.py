"""One CAM method of pytorch-grad-cam (PyPI grad-cam) on torchvision's VGG16 with random
weights, as a user would: decode each PNG, resize to 224, ImageNet normalisation, batches of
--batch, top-1 class (targets=None), target layer features[29] (block5_conv3's ReLU).
Score-CAM's and Ablation-CAM's inner batch: --masked-batch (their defaults: 16 and 32).
Prints images/s (decode included) and peak RSS as JSON. `--threads 0` keeps torch's default."""
import argparse, glob, json, resource, time
import numpy as np
import torch
from PIL import Image
import pytorch_grad_cam as pgc
import nets

METHODS = {"gradcam": pgc.GradCAM, "gradcam++": pgc.GradCAMPlusPlus, "xgradcam": pgc.XGradCAM,
           "hirescam": pgc.HiResCAM, "layercam": pgc.LayerCAM, "eigencam": pgc.EigenCAM,
           "eigengradcam": pgc.EigenGradCAM, "scorecam": pgc.ScoreCAM, "ablationcam": pgc.AblationCAM}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--method", required=True, choices=sorted(METHODS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--masked-batch", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    paths = sorted(glob.glob(a.images))
    model = nets.vgg16_features(0)
    cam = METHODS[a.method](model=model, target_layers=[model.features[29]])
    if a.masked_batch:
        cam.batch_size = a.masked_batch
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    t0 = time.perf_counter()
    for i in range(0, len(paths), a.batch):
        imgs = [np.asarray(Image.open(p).convert("RGB").resize((224, 224)), np.float32) / 255 for p in paths[i:i + a.batch]]
        x = torch.from_numpy(np.stack([(im - mean) / std for im in imgs])).permute(0, 3, 1, 2).contiguous()
        maps = cam(input_tensor=x, targets=None)
        assert maps.shape[0] == len(imgs)
    sec = time.perf_counter() - t0
    print(json.dumps({"method": a.method, "images": len(paths), "seconds": sec, "rate": len(paths) / sec,
                      "threads": torch.get_num_threads(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


if __name__ == "__main__":
    main()
