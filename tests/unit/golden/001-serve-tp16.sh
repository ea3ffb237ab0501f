# Verbatim from runbook 001_5ba5506a4538b47b.md, "Start the Online Inference Service on multinode", TP 16
python -m vllm.entrypoints.openai.api_server \
       --model="Deepseek/DeepSeek-V2-Lite-Chat" \
       --trust-remote-code \
       --distributed_executor_backend "ray" \
       --enforce-eager \
       --tensor-parallel-size 16 \
       --port {port_num}
