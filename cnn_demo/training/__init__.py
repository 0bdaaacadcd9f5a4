"""Training: the loop and its messages (train), the app's background run (live), one job per
server (jobs), the device and its measured settings (device, calibrate), test accuracy
(evaluate), loss curves (curves), and the speed benchmark (bench)."""
