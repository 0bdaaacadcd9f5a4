"""Home: what a CNN is, in a few sentences, and where to go next."""

import inspect

import streamlit as st

from cnn_demo.model import SeedCNN
from pages.common import active

st.title("How a convolutional neural network sees digits")

st.markdown(
    """
A picture of a digit is a grid of pixels. A **fully connected** layer first flattens that
grid into one long list, so it no longer knows which pixels were neighbours. A
**convolution** layer keeps the picture's 2-D shape: it slides a small filter, a few
pixels wide, across the whole image and writes down how strongly each spot matches it.
The same filter is used everywhere, so a stroke is found wherever it is drawn, and each
output looks only at a small patch. That is why CNNs suit images.

This app trains such a network on MNIST, 70,000 handwritten digits, and lets you look inside.
"""
)

left, middle, right = st.columns(3)
with left:
    st.subheader(":material/monitoring: Train")
    st.write("Train the network live and watch the loss fall and its first filters take shape.")
    st.page_link("pages/train.py", label="Open Train", icon=":material/monitoring:")
with middle:
    st.subheader(":material/draw: Draw")
    st.write("Draw a digit and see what the network sees and how sure it is.")
    st.page_link("pages/draw.py", label="Open Draw", icon=":material/draw:")
with right:
    st.subheader(":material/search: Inspect")
    st.write("Every layer's feature maps, the pooling, and the learned filters.")
    st.page_link("pages/inspect.py", label="Open Inspect", icon=":material/search:")

st.subheader("The network")
model = active().model
params = sum(p.numel() for p in model.parameters())
st.markdown(
    f"""
| stage | what it does | output shape |
| --- | --- | --- |
| input | a 28 × 28 grey image | 1 × 28 × 28 |
| conv1 + ReLU | 16 filters of 5 × 5 | 16 × 24 × 24 |
| conv2 + ReLU | 32 filters of 16 × 5 × 5 | 32 × 20 × 20 |
| max-pool | keeps the largest of each 2 × 2 | 32 × 10 × 10 |
| conv3 + ReLU | 64 filters of 32 × 5 × 5 | 64 × 6 × 6 |
| max-pool | keeps the largest of each 2 × 2 | 64 × 3 × 3 |
| flatten | one list of numbers | 576 |
| linear + ReLU | 100 hidden units | 100 |
| linear | one score per digit | 10 |

{params:,} numbers (weights and biases) in all, learned from the training images.
"""
)
with st.expander("The model's code, exactly as the app runs it"):
    st.code(inspect.getsource(SeedCNN), language="python")
