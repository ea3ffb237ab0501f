# Verbatim from runbook 001_5ba5506a4538b47b.md, "Start the Online Inference Service on multinode", TP 8 x PP 2
python -m vllm.entrypoints.openai.api_server \
       --model="Deepseek/DeepSeek-V2-Lite-Chat" \
       --trust-remote-code \
       --enforce-eager \
       --distributed_executor_backend "ray" \
       --tensor-parallel-size 8 \
       --pipeline-parallel-size 2 \
       --disable-frontend-multiprocessing \
       --port {port_num}
