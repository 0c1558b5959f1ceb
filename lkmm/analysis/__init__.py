from .complexity import inference_complexity, to_inference_form

__all__ = ['inference_complexity', 'to_inference_form']
