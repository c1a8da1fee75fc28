// GraphBackend::forward_channels: one channel of a layer per batch item. For a
// convolution only the selected filters are applied to the layer's input, so the
// forward and the backward pass through the target layer cost N filters instead of
// all of them (filter visualisation asks for one filter per picture).
#include <ATen/ATen.h>

#include <algorithm>

#include "vizrun/error.h"
#include "vizrun_models/backend.h"

namespace vizrun::models {

namespace {

/// Element-wise activations only (softmax mixes channels: such layers take the gathered path).
bool elementwise(const Activation& a) {
  for (const char* name : {"", "linear", "relu", "sigmoid", "tanh", "elu", "selu", "softplus", "swish", "silu", "gelu"})
    if (a == name) return true;
  return false;
}

}  // namespace

at::Tensor GraphBackend::forward_channels(const at::Tensor& input, const std::string& layer,
                                          const at::Tensor& channels) {
  const int index = m_graph->require(layer);
  const Node& node = m_graph->nodes()[static_cast<std::size_t>(index)];
  const std::int64_t n = input.dim() == 4 ? input.size(0) : 0;
  // The selected-filter convolution computes an N x N block and keeps its diagonal:
  // it pays only while N is well below the layer's filter count.
  if (node.kind != OpKind::conv2d || node.attrs.groups != 1 || !elementwise(node.attrs.activation) || node.inputs.size() != 1 ||
      2 * n > node.attrs.filters)
    return ModelBackend::forward_channels(input, layer, channels);
  check_input(input, {layer});
  if (channels.dim() != 1 || channels.size(0) != n)
    throw Error("forward_channels: " + std::to_string(channels.numel()) + " channel indices for a batch of " +
                std::to_string(n));
  const OpAttrs& a = node.attrs;
  const at::Tensor& kernel = m_graph->params()[static_cast<std::size_t>(node.params[0])].tensor;
  const bool channels_last = kernel.is_contiguous(at::MemoryFormat::ChannelsLast) && !kernel.is_contiguous();

  // The layer's input: the graph input, or the previous node's output (nothing else runs).
  at::Tensor x = input.device() == m_device ? input : input.to(m_device);
  const int source = node.inputs[0];
  if (source >= 0) {
    const std::string& name = m_graph->nodes()[static_cast<std::size_t>(source)].name;
    x = m_graph->forward(x, {name}, /*standard_layout_taps=*/false).at(name);
  }
  if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);

  const at::Tensor picked = channels.to(kernel.device(), at::kLong);
  if (picked.numel() > 0 && (picked.min().item<std::int64_t>() < 0 || picked.max().item<std::int64_t>() >= a.filters))
    throw Error("forward_channels: channel index out of range for layer " + layer + " (" + std::to_string(a.filters) +
                " filters)");
  at::Tensor weight = kernel.index_select(0, picked);
  if (channels_last) weight = weight.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor bias = a.use_bias ? m_graph->params()[static_cast<std::size_t>(node.params[1])].tensor.index_select(0, picked)
                               : at::Tensor();
  // {N, N, H, W}: picture i through filter channels[j]; picture b keeps entry (b, b).
  const at::Tensor all = Graph::convolve(node, x, weight, bias);
  const at::Tensor mine = all.diagonal(0, 0, 1).permute({2, 0, 1}).unsqueeze(1);
  return Graph::activate(mine, a.activation);
}

}  // namespace vizrun::models
